//go:build !mutation

package upgrade_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

const (
	oldImage = "storageos/node:v2.1.0"
	newImage = "storageos/node:v2.2.0"
)

var worldCount atomic.Int32

// world is a StorageOS cluster with applications, and the test playing the parts envtest lacks: the kubelet
// (pods become ready), the DaemonSet, Deployment and StatefulSet controllers (pods follow replicas and
// templates; status follows pods) and the job-manager (the image pull Job completes). Each part can be held
// back to make a step wait, or fail on its timeout.
type world struct {
	cluster   *storageosv1.StorageOSCluster
	clusterNS string // the cluster's spec.namespace, where the node DaemonSet runs
	appNS     string
	nodes     []string

	holdJob, holdNodePods, holdAppPods atomic.Bool
	podCount                           atomic.Int32
	// replicaSets are the Deployments' ReplicaSets, by Deployment name; only the fake controllers' loop uses it.
	replicaSets map[string]*metav1.OwnerReference
}

// newWorld creates a Running cluster on three nodes and applications in a namespace of their own:
// StorageOS ones (web: Deployment with a PVC, db: StatefulSet with a volumeClaimTemplate, scratch: Deployment
// with a generic ephemeral volume) and others (cache: another class; idle: StorageOS but at zero replicas).
// The fake controllers run until the test ends; the cluster is deleted then.
func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	n := worldCount.Add(1)
	w := &world{clusterNS: fmt.Sprintf("storageos-%d", n), appNS: testEnv.CreateNamespace(t), nodes: []string{"node-a", "node-b", "node-c"}}
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "storageos-fast"}, Provisioner: names.CSIDriver},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Provisioner: "ebs.csi.aws.com"},
	} {
		require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(ctx, sc)))
	}
	secretNS := testEnv.CreateNamespace(t)
	require.NoError(t, testEnv.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.clusterNS}}))
	require.NoError(t, testEnv.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "storageos-api", Namespace: secretNS},
		Data: map[string][]byte{"apiUsername": []byte(apiUsername), "apiPassword": []byte(apiPassword)}}))

	w.cluster = &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "storageos", Namespace: testEnv.CreateNamespace(t)},
		Spec: storageosv1.StorageOSClusterSpec{SecretRefName: "storageos-api", SecretRefNamespace: storageosv1.NamespaceName(secretNS),
			Namespace:   storageosv1.NamespaceName(w.clusterNS),
			Tolerations: []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists}}},
	}
	require.NoError(t, testEnv.Client.Create(ctx, w.cluster))
	w.cluster.Status.Phase = storageosv1.ClusterPhaseRunning
	require.NoError(t, testEnv.Client.Status().Update(ctx, w.cluster))
	t.Cleanup(func() {
		ctx := context.Background() // the outer ctx is cancelled with the fake controllers
		require.NoError(t, client.IgnoreNotFound(testEnv.Client.Delete(ctx, w.cluster)))
		left := &storageosv1.StorageOSCluster{}
		require.Eventually(t, func() bool {
			return apierrorsIsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(w.cluster), left))
		}, timeout, tick, "the cluster is never deleted: %+v", left.ObjectMeta)
	})
	// Each test starts with StorageOS out of maintenance mode, whatever the previous one left.
	require.NoError(t, storageos.New(sim.URL(), storageos.Credentials{Username: apiUsername, Password: apiPassword}).DisableMaintenance(ctx))

	// The node DaemonSet as the cluster-manager deploys it (only what the upgrade looks at).
	nodeLabels := map[string]string{names.LabelApp: "storageos", names.LabelComponent: "node"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: names.DaemonSet, Namespace: w.clusterNS, Labels: nodeLabels},
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: nodeLabels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: nodeLabels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{
						{Name: names.NodeContainer, Image: oldImage},
						{Name: "csi-driver-registrar", Image: "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.10.0"},
					},
					Tolerations: []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists}},
					Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
						NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
							Key: "storage", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes"}}}}}}}},
				},
			},
		},
	}
	require.NoError(t, testEnv.Client.Create(ctx, ds))

	claim := func(name, class string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.appNS}, Spec: claimSpec(class)}
	}
	for _, obj := range []client.Object{
		claim("web-data", "storageos-fast"), claim("cache-data", "other"), claim("idle-data", "storageos-fast"),
		deployment(w.appNS, "web", 3, pvcVolume("web-data")),
		deployment(w.appNS, "cache", 2, pvcVolume("cache-data")),
		deployment(w.appNS, "idle", 0, pvcVolume("idle-data")),
		deployment(w.appNS, "scratch", 1, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
			VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: claimSpec("storageos-fast")}}}}),
		statefulSet(w.appNS, "db", 2, "storageos-fast"),
	} {
		require.NoError(t, testEnv.Client.Create(ctx, obj))
	}

	loop, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for loop.Err() == nil {
			w.step(loop)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		w.remove(t)
	})
	// The applications start as running and ready.
	require.Eventually(t, func() bool {
		return w.appsReady(map[string]int32{"web": 3, "cache": 2, "scratch": 1, "db": 2, "idle": 0})
	}, timeout, tick)
	require.Eventually(t, func() bool { return len(w.nodePods()) == len(w.nodes) }, timeout, tick)
	return w
}

func claimSpec(class string) corev1.PersistentVolumeClaimSpec {
	return corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}
}

func pvcVolume(claim string) corev1.Volume {
	return corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func podTemplate(name string, volumes ...corev1.Volume) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}, Volumes: volumes},
	}
}

func deployment(ns, name string, replicas int32, volume corev1.Volume) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		Template: podTemplate(name, volume)}}
}

func statefulSet(ns, name string, replicas int32, class string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: appsv1.StatefulSetSpec{
		Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		Template:             podTemplate(name),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: claimSpec(class)}}}}
}

// step plays one round of every fake controller. Errors are transient (conflicts with the upgrade-manager's
// writes) and the next round retries, as real controllers do.
func (w *world) step(ctx context.Context) {
	w.completeJobs(ctx)
	w.runDaemonSet(ctx)
	var deploys appsv1.DeploymentList
	if testEnv.Client.List(ctx, &deploys, client.InNamespace(w.appNS)) == nil {
		for i := range deploys.Items {
			d := &deploys.Items[i]
			owner := w.replicaSet(ctx, d)
			if owner == nil {
				continue
			}
			ready := w.runPods(ctx, d.Spec.Template, d.Spec.Selector, ptr.Deref(d.Spec.Replicas, 1), owner)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: ready, ReadyReplicas: ready,
				UpdatedReplicas: ready, AvailableReplicas: ready}
			_ = testEnv.Client.Status().Update(ctx, d)
		}
	}
	var sets appsv1.StatefulSetList
	if testEnv.Client.List(ctx, &sets, client.InNamespace(w.appNS)) == nil {
		for i := range sets.Items {
			s := &sets.Items[i]
			owner := metav1.NewControllerRef(s, appsv1.SchemeGroupVersion.WithKind("StatefulSet"))
			ready := w.runPods(ctx, s.Spec.Template, s.Spec.Selector, ptr.Deref(s.Spec.Replicas, 1), owner)
			s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: ready, ReadyReplicas: ready,
				CurrentReplicas: ready, UpdatedReplicas: ready, AvailableReplicas: ready}
			_ = testEnv.Client.Status().Update(ctx, s)
		}
	}
}

// replicaSet plays the Deployment controller's part the upgrade looks at: a Deployment's pods belong to a
// ReplicaSet it controls. One ReplicaSet per Deployment, created once; its controller reference to the pods is
// returned, nil until it exists.
func (w *world) replicaSet(ctx context.Context, d *appsv1.Deployment) *metav1.OwnerReference {
	if w.replicaSets == nil {
		w.replicaSets = map[string]*metav1.OwnerReference{}
	}
	if ref, ok := w.replicaSets[d.Name]; ok {
		return ref
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-rs", Namespace: d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	if err := testEnv.Client.Create(ctx, rs); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(rs), rs); err != nil {
		return nil
	}
	ref := metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	w.replicaSets[d.Name] = ref
	return ref
}

// completeJobs plays the job-manager for the image pull Job: every node has pulled.
func (w *world) completeJobs(ctx context.Context) {
	if w.holdJob.Load() {
		return
	}
	var jobs storageosv1.JobList
	if testEnv.Client.List(ctx, &jobs, client.InNamespace(w.clusterNS)) != nil {
		return
	}
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if !j.Status.Completed {
			j.Status.Completed, j.Status.NodesCompleted, j.Status.NodesTotal = true, int32(len(w.nodes)), int32(len(w.nodes))
			_ = testEnv.Client.Status().Update(ctx, j)
		}
	}
}

// runDaemonSet plays the DaemonSet controller with OnDelete: a node without a pod gets one from the current
// template; existing pods are never replaced.
func (w *world) runDaemonSet(ctx context.Context) {
	ds := &appsv1.DaemonSet{}
	if testEnv.Client.Get(ctx, client.ObjectKey{Namespace: w.clusterNS, Name: names.DaemonSet}, ds) != nil {
		return
	}
	have := map[string]bool{}
	var ready int32
	for _, p := range w.nodePods() {
		have[p.Labels["node"]] = true
		if w.makeReady(ctx, &p) {
			ready++
		}
	}
	if !w.holdNodePods.Load() {
		for _, node := range w.nodes {
			if !have[node] {
				w.createPod(ctx, ds.Spec.Template, map[string]string{"node": node}, nil)
			}
		}
	}
	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: int32(len(w.nodes)),
		CurrentNumberScheduled: int32(len(have)), NumberReady: ready, UpdatedNumberScheduled: ready}
	_ = testEnv.Client.Status().Update(ctx, ds)
}

// nodePods are the node DaemonSet's pods.
func (w *world) nodePods() []corev1.Pod {
	var pods corev1.PodList
	_ = testEnv.Client.List(context.Background(), &pods, client.InNamespace(w.clusterNS), client.HasLabels{"node"})
	return pods.Items
}

// runPods makes the pods of a workload follow its replica count and returns how many are ready.
func (w *world) runPods(ctx context.Context, tmpl corev1.PodTemplateSpec, sel *metav1.LabelSelector, replicas int32, owner *metav1.OwnerReference) int32 {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return 0
	}
	var pods corev1.PodList
	if testEnv.Client.List(ctx, &pods, client.InNamespace(w.appNS), client.MatchingLabelsSelector{Selector: selector}) != nil {
		return 0
	}
	n := int32(len(pods.Items))
	var ready int32
	for i := range pods.Items {
		if w.makeReady(ctx, &pods.Items[i]) {
			ready++
		}
	}
	if !w.holdAppPods.Load() {
		for ; n > replicas; n-- {
			_ = testEnv.Client.Delete(ctx, &pods.Items[n-1])
		}
		for ; n < replicas; n++ {
			w.createPod(ctx, tmpl, nil, owner)
		}
	}
	return min(ready, replicas)
}

// makeReady plays the kubelet: a pod that is not ready yet becomes ready. It reports whether it is.
func (w *world) makeReady(ctx context.Context, pod *corev1.Pod) bool {
	if isReady(pod) {
		return true
	}
	if !pod.DeletionTimestamp.IsZero() {
		return false
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	return testEnv.Client.Status().Update(ctx, pod) == nil
}

// createPod creates a pod from a template, controlled by owner when there is one, and makes it ready.
func (w *world) createPod(ctx context.Context, tmpl corev1.PodTemplateSpec, extra map[string]string, owner *metav1.OwnerReference) {
	l := labels.Merge(tmpl.Labels, extra)
	ns := w.appNS
	if _, ok := extra["node"]; ok {
		ns = w.clusterNS
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", w.podCount.Add(1)), Namespace: ns, Labels: l},
		Spec: *tmpl.Spec.DeepCopy()}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	if testEnv.Client.Create(ctx, pod) == nil {
		w.makeReady(ctx, pod)
	}
}

// appsReady reports whether every named application runs exactly its count of ready replicas.
func (w *world) appsReady(want map[string]int32) bool {
	ctx := context.Background()
	for name, n := range want {
		var pods corev1.PodList
		if testEnv.Client.List(ctx, &pods, client.InNamespace(w.appNS), client.MatchingLabels{"app": name}) != nil || int32(len(pods.Items)) != n {
			return false
		}
		for i := range pods.Items {
			if !isReady(&pods.Items[i]) {
				return false
			}
		}
	}
	return true
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return p.DeletionTimestamp.IsZero()
		}
	}
	return false
}

// runningPods counts the ready application pods.
func (w *world) runningPods() int {
	var pods corev1.PodList
	if testEnv.Client.List(context.Background(), &pods, client.InNamespace(w.appNS)) != nil {
		return 0
	}
	n := 0
	for i := range pods.Items {
		if isReady(&pods.Items[i]) {
			n++
		}
	}
	return n
}

// remove deletes what the world created in namespaces (envtest runs no namespace controller that would), so
// the next test's upgrade does not find this world's applications.
func (w *world) remove(t testing.TB) {
	ctx := context.Background()
	for _, obj := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.ReplicaSet{}, &corev1.Pod{}, &corev1.PersistentVolumeClaim{}} {
		require.NoError(t, client.IgnoreNotFound(testEnv.Client.DeleteAllOf(ctx, obj, client.InNamespace(w.appNS))))
	}
	for _, obj := range []client.Object{&appsv1.DaemonSet{}, &corev1.Pod{}, &storageosv1.Job{}} {
		require.NoError(t, client.IgnoreNotFound(testEnv.Client.DeleteAllOf(ctx, obj, client.InNamespace(w.clusterNS))))
	}
}
