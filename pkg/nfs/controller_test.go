//go:build !mutation

package nfs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/nfs"
)

// The tests run in order in one function: which StorageOSCluster exists is global to the Kubernetes cluster, and
// the first cases are about there being none.
func TestNFSServer(t *testing.T) {
	t.Run("without a StorageOSCluster nothing is deployed, and deletion completes", withoutCluster)

	clusterNS := testEnv.CreateNamespace(t)
	c := &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "example-storageos", Namespace: clusterNS},
		Spec: storageosv1.StorageOSClusterSpec{
			SecretRefName: "storageos-api", SecretRefNamespace: storageosv1.NamespaceName(clusterNS),
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "storage", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes"}}}}},
		},
	}
	create(t, c)
	assert.Equal(t, storageosv1.ObjectName("fast"), c.Spec.StorageClassName, "the schema defaults the class")
	// The class the cluster-manager deploys: StorageOS volumes can grow.
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: names.CSIDriver,
		AllowVolumeExpansion: ptr.To(true)})

	t.Run("the original's example runs, and says where to mount it", func(t *testing.T) { exampleRuns(t, c) })
	t.Run("spec edits reach the objects, and a configuration change rolls the pod", specEdits)
	t.Run("hand edits are reverted", handEdits)
	t.Run("the cluster's image, placement and fencing reach its servers", func(t *testing.T) { clusterSettings(t, c) })
	t.Run("a paused cluster's servers are left as they are", func(t *testing.T) { pausedCluster(t, c) })
	t.Run("the OpenShift SCC binding follows the distro and goes with the server", func(t *testing.T) { openShift(t, c) })
	t.Run("reclaim policy and mount options reach the bound volume", volumeSettings)
	t.Run("a server does not take over another's objects", nameClash)
	t.Run("deletion follows the reclaim policy and never deletes a named claim", deletion)
	t.Run("a named claim that does not exist fails naming the field", missingClaim)
	t.Run("a ServiceMonitor where Prometheus operator's kind is served", serviceMonitor)
	t.Run("a server of the original operator is taken over in place", func(t *testing.T) { migration(t, c) })
}

func withoutCluster(t *testing.T) {
	var clusters storageosv1.StorageOSClusterList
	require.NoError(t, testEnv.Client.List(context.Background(), &clusters))
	require.Empty(t, clusters.Items, "this case needs a Kubernetes cluster without StorageOSCluster")

	s := exampleServer(testEnv.CreateNamespace(t), "lonely")
	create(t, s)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Status.Phase != storageosv1.NFSServerPhasePending {
			return fmt.Errorf("phase %q", s.Status.Phase)
		}
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionFalse, nfs.ReasonNoCluster)
	})
	assert.Contains(t, s.Finalizers, nfs.Finalizer)
	err := testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(s), &appsv1.StatefulSet{})
	assert.True(t, client.IgnoreNotFound(err) == nil && err != nil, "no StatefulSet without a cluster: %v", err)

	require.NoError(t, testEnv.Client.Delete(context.Background(), s))
	gone(t, s)
}

func exampleRuns(t *testing.T, c *storageosv1.StorageOSCluster) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "example-nfsserver")
	s.Labels = map[string]string{"storageos.com/replicas": "2"}
	create(t, s)

	// Every object, named as the original named them, owned by the server (the claim excepted).
	sts := child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(s), s))
	owner := metav1.OwnerReference{APIVersion: "storageos.com/v1", Kind: "NFSServer", Name: s.Name, UID: s.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	assert.Equal(t, []metav1.OwnerReference{owner}, sts.OwnerReferences)
	pod := sts.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	assert.Equal(t, "registry.example.com/storageos/nfs:pinned", pod.Containers[0].Image, "RELATED_IMAGE_NFS when neither names one")
	assert.Equal(t, "storageos-nfs-example-nfsserver", pod.ServiceAccountName)
	assert.Equal(t, c.Spec.NodeSelectorTerms, pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
	assert.Equal(t, "true", sts.Spec.Template.Labels["storageos.com/fenced"], "fencing is on by default")
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.ConfigMap{}} {
		child(t, obj, ns, s.Name, nil)
		assert.Equal(t, []metav1.OwnerReference{owner}, obj.GetOwnerReferences())
	}
	child(t, &corev1.Service{}, ns, s.Name+"-metrics", nil)
	child(t, &corev1.ServiceAccount{}, ns, "storageos-nfs-"+s.Name, nil)
	claim := child(t, &corev1.PersistentVolumeClaim{}, ns, s.Name, nil)
	assert.Empty(t, claim.OwnerReferences, "the claim goes by the reclaim policy, not with the server's objects")
	assert.Equal(t, "fast", ptr.Deref(claim.Spec.StorageClassName, ""))
	assert.Equal(t, "1Gi", ptr.To(claim.Spec.Resources.Requests[corev1.ResourceStorage]).String())
	assert.Equal(t, "2", claim.Labels["storageos.com/replicas"], "the server's labels reach the volume")
	config := child(t, &corev1.ConfigMap{}, ns, s.Name, nil).Data[s.Name]
	assert.Contains(t, config, "Access_Type = RW;")
	assert.Contains(t, config, "Path = /export/example-nfsserver;")

	// The class is pinned in the spec, and the server waits for its volume.
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Spec.StorageClassName != "fast" {
			return fmt.Errorf("storageClassName %q", s.Spec.StorageClassName)
		}
		if err := hasCondition(s, nfs.ConditionReconciled, metav1.ConditionTrue, nfs.ReasonAsExpected); err != nil {
			return err
		}
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionFalse, nfs.ReasonClaimPending)
	})
	assert.Equal(t, storageosv1.NFSServerPhasePending, s.Status.Phase)
	assert.Equal(t, "RW", s.Status.AccessModes)
	assert.Equal(t, s.Generation, s.Status.ObservedGeneration)

	bindClaim(t, ns, s.Name)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionFalse, nfs.ReasonNoPod)
	})
	p := runPod(t, s, false)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionFalse, nfs.ReasonPodNotReady)
	})
	setPodReady(t, p, true)
	svc := child(t, &corev1.Service{}, ns, s.Name, nil)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Status.Phase != storageosv1.NFSServerPhaseRunning {
			return fmt.Errorf("phase %q", s.Status.Phase)
		}
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionTrue, nfs.ReasonReady)
	})
	assert.Equal(t, svc.Spec.ClusterIP+":2049", s.Status.RemoteTarget)

	out, err := testEnv.Kubectl(ctx, "get", "nfsserver", "-n", ns)
	require.NoError(t, err)
	assert.Regexp(t, `example-nfsserver\s+Running\s+1Gi\s+`+strings.ReplaceAll(svc.Spec.ClusterIP, ".", `\.`)+`:2049\s+RW\s+fast\s+`, out)

	// One ChangedStatus per transition, however often the server was reconciled on the way.
	eventually(t, "one ChangedStatus event", func(ctx context.Context) error {
		events, err := eventsOf(ctx, s, "ChangedStatus")
		if err != nil {
			return err
		}
		if len(events) != 1 || events[0].Series != nil {
			return fmt.Errorf("%d ChangedStatus events: %v", len(events), events)
		}
		if want := "NFS server is now functional: " + s.Status.RemoteTarget; events[0].Note != want {
			return fmt.Errorf("note %q, want %q", events[0].Note, want)
		}
		return nil
	})

	// More reconciles with nothing new (an annotation, a hand edit undone) send no more events.
	update(t, s, func(s *storageosv1.NFSServer) { s.Annotations = map[string]string{"touched": "1"} })
	update(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns}},
		func(cm *corev1.ConfigMap) { cm.Data[s.Name] = "hand edit" })
	child(t, &corev1.ConfigMap{}, ns, s.Name, func(cm *corev1.ConfigMap) error {
		if cm.Data[s.Name] != config {
			return fmt.Errorf("hand edit not undone yet")
		}
		return nil
	})
	assertEventCount(t, s, "ChangedStatus", 1)

	// The pod stops being ready: the status says so, and the event says it once.
	setPodReady(t, p, false)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Status.Phase != storageosv1.NFSServerPhasePending {
			return fmt.Errorf("phase %q", s.Status.Phase)
		}
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionFalse, nfs.ReasonPodNotReady)
	})
	assertEventCount(t, s, "ChangedStatus", 2)
}

// assertEventCount checks, for a few seconds, that exactly n events with reason were sent about the server
// (a series counts as its count).
func assertEventCount(t *testing.T, s *storageosv1.NFSServer, reason string, n int) {
	t.Helper()
	count := func() int {
		events, err := eventsOf(context.Background(), s, reason)
		require.NoError(t, err)
		total := 0
		for _, e := range events {
			total++
			if e.Series != nil {
				total += int(e.Series.Count) - 1
			}
		}
		return total
	}
	eventually(t, fmt.Sprintf("%d %s events", n, reason), func(context.Context) error {
		if got := count(); got != n {
			return fmt.Errorf("%d %s events", got, reason)
		}
		return nil
	})
	for range 3 {
		time.Sleep(time.Second)
		require.Equal(t, n, count(), "no more %s events", reason)
	}
}

// running creates a server and brings it to Running, playing the binder and the kubelet.
func running(t *testing.T, s *storageosv1.NFSServer) *corev1.Pod {
	t.Helper()
	create(t, s)
	child(t, &appsv1.StatefulSet{}, s.Namespace, s.Name, nil)
	if nfs.OwnsClaim(s) {
		bindClaim(t, s.Namespace, s.Name)
	}
	p := runPod(t, s, true)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionTrue, nfs.ReasonReady)
	})
	return p
}

func specEdits(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "edited")
	running(t, s)
	before := child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	hashBefore := before.Spec.Template.Annotations[nfs.AnnotationConfigHash]
	require.NotEmpty(t, hashBefore)

	update(t, s, func(s *storageosv1.NFSServer) {
		s.Spec.Export = storageosv1.ExportSpec{Name: "share", Server: storageosv1.ServerSpec{AccessMode: "ReadOnly", Squash: "root"}}
		s.Spec.NFSContainer = "storageos/nfs:1.1.0"
		s.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Value: "storage", Effect: corev1.TaintEffectNoSchedule}}
		s.Spec.Annotations = map[string]string{"backup": "daily"}
		s.Spec.Resources.Requests[corev1.ResourceStorage] = storageosv1.Quantity{Quantity: resource.MustParse("2Gi")}
	})
	child(t, &corev1.ConfigMap{}, ns, s.Name, func(cm *corev1.ConfigMap) error {
		if !strings.Contains(cm.Data[s.Name], "Access_Type = RO;") || !strings.Contains(cm.Data[s.Name], "Squash = root;") {
			return fmt.Errorf("config not updated:\n%s", cm.Data[s.Name])
		}
		return nil
	})
	sts := child(t, &appsv1.StatefulSet{}, ns, s.Name, func(sts *appsv1.StatefulSet) error {
		if sts.Spec.Template.Annotations[nfs.AnnotationConfigHash] == hashBefore {
			return fmt.Errorf("the pod template does not follow the configuration: the pod would keep the old export")
		}
		return nil
	})
	tmpl := sts.Spec.Template
	assert.Equal(t, "storageos/nfs:1.1.0", tmpl.Spec.Containers[0].Image)
	assert.Equal(t, s.Spec.Tolerations, tmpl.Spec.Tolerations)
	assert.Equal(t, "daily", tmpl.Annotations["backup"])
	child(t, &corev1.PersistentVolumeClaim{}, ns, s.Name, func(c *corev1.PersistentVolumeClaim) error {
		if got := ptr.To(c.Spec.Resources.Requests[corev1.ResourceStorage]); got.String() != "2Gi" {
			return fmt.Errorf("claim requests %s", got)
		}
		return nil
	})
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Status.AccessModes != "RO" {
			return fmt.Errorf("accessModes %q", s.Status.AccessModes)
		}
		if s.Status.ObservedGeneration != s.Generation {
			return fmt.Errorf("observedGeneration %d of %d", s.Status.ObservedGeneration, s.Generation)
		}
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionTrue, nfs.ReasonAsExpected)
	})
}

func handEdits(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "guarded")
	create(t, s)
	cm := child(t, &corev1.ConfigMap{}, ns, s.Name, nil)
	want := cm.Data[s.Name]
	update(t, cm, func(cm *corev1.ConfigMap) { cm.Data[s.Name] = "EXPORT { Access_Type = RW; Squash = none; }" })
	child(t, cm, ns, s.Name, func(cm *corev1.ConfigMap) error {
		if cm.Data[s.Name] != want {
			return fmt.Errorf("hand edit not reverted")
		}
		return nil
	})
	sts := child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	update(t, sts, func(sts *appsv1.StatefulSet) { sts.Spec.Replicas = ptr.To[int32](0) })
	child(t, sts, ns, s.Name, func(sts *appsv1.StatefulSet) error {
		if ptr.Deref(sts.Spec.Replicas, 0) != 1 {
			return fmt.Errorf("replicas %d", ptr.Deref(sts.Spec.Replicas, 0))
		}
		return nil
	})
	svc := child(t, &corev1.Service{}, ns, s.Name, nil)
	require.NoError(t, testEnv.Client.Delete(ctx, svc))
	child(t, &corev1.Service{}, ns, s.Name, func(n *corev1.Service) error {
		if n.UID == svc.UID {
			return fmt.Errorf("not recreated yet")
		}
		return nil
	})
}

func clusterSettings(t *testing.T, c *storageosv1.StorageOSCluster) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "follower")
	create(t, s)
	child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	terms := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
		Key: "tier", Operator: corev1.NodeSelectorOpIn, Values: []string{"storage"}}}}}
	update(t, c, func(c *storageosv1.StorageOSCluster) {
		c.Spec.Images.NFSContainer = "registry.example.com/nfs:cluster"
		c.Spec.NodeSelectorTerms = terms
		c.Spec.DisableFencing = true
	})
	sts := child(t, &appsv1.StatefulSet{}, ns, s.Name, func(sts *appsv1.StatefulSet) error {
		if img := sts.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/nfs:cluster" {
			return fmt.Errorf("image %s", img)
		}
		return nil
	})
	assert.Equal(t, terms, sts.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
	assert.NotContains(t, sts.Spec.Template.Labels, "storageos.com/fenced", "disableFencing removes the fencing label")
	// The class pinned at creation stays: a claim's class cannot change.
	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.StorageClassName = "slow" })
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(s), s))
	assert.Equal(t, "fast", s.Spec.StorageClassName)
	update(t, c, func(c *storageosv1.StorageOSCluster) {
		c.Spec.Images.NFSContainer, c.Spec.DisableFencing, c.Spec.StorageClassName = "", false, "fast"
	})
}

func pausedCluster(t *testing.T, c *storageosv1.StorageOSCluster) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "paused")
	create(t, s)
	child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.Pause = true })
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionFalse, nfs.ReasonPaused)
	})
	// An upgrade scales the server down; the controller must not scale it back while the cluster is paused.
	sts := child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	update(t, sts, func(sts *appsv1.StatefulSet) { sts.Spec.Replicas = ptr.To[int32](0) })
	update(t, s, func(s *storageosv1.NFSServer) { s.Spec.NFSContainer = "storageos/nfs:1.2.0" })
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionFalse, nfs.ReasonPaused)
	})
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(sts), sts))
	assert.Equal(t, int32(0), ptr.Deref(sts.Spec.Replicas, 1))
	assert.NotEqual(t, "storageos/nfs:1.2.0", sts.Spec.Template.Spec.Containers[0].Image)

	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.Pause = false })
	child(t, sts, ns, s.Name, func(sts *appsv1.StatefulSet) error {
		if ptr.Deref(sts.Spec.Replicas, 0) != 1 || sts.Spec.Template.Spec.Containers[0].Image != "storageos/nfs:1.2.0" {
			return fmt.Errorf("not converged after the pause: replicas %d, image %s", ptr.Deref(sts.Spec.Replicas, 0),
				sts.Spec.Template.Spec.Containers[0].Image)
		}
		return nil
	})
}

func openShift(t *testing.T, c *storageosv1.StorageOSCluster) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "on-openshift")
	create(t, s)
	child(t, &appsv1.StatefulSet{}, ns, s.Name, nil)
	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.K8sDistro = "openshift" })
	rb := child(t, &rbacv1.RoleBinding{}, ns, "storageos:openshift-scc-nfs-on-openshift", nil)
	assert.Equal(t, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "storageos:openshift-scc"}, rb.RoleRef)
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "storageos-nfs-on-openshift", Namespace: ns}}, rb.Subjects)
	require.Len(t, rb.OwnerReferences, 1, "owned by the server, so it goes with it")
	assert.Equal(t, s.Name, rb.OwnerReferences[0].Name)

	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.K8sDistro = "" })
	gone(t, rb)
	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.K8sDistro = "openshift" })
	child(t, &rbacv1.RoleBinding{}, ns, "storageos:openshift-scc-nfs-on-openshift", nil)
	update(t, c, func(c *storageosv1.StorageOSCluster) { c.Spec.K8sDistro = "" })
}

// An NFSServer whose objects would be another's (server "web" has the Service "web-metrics"; a server named
// "web-metrics" wants a Service of that name) does not take them over, though one field owner applies both.
func nameClash(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	web := exampleServer(ns, "web")
	create(t, web)
	metrics := child(t, &corev1.Service{}, ns, "web-metrics", nil)
	clash := exampleServer(ns, "web-metrics")
	create(t, clash)
	serverStatus(t, clash, func(s *storageosv1.NFSServer) error {
		if s.Status.Phase != storageosv1.NFSServerPhaseFailed {
			return fmt.Errorf("phase %q", s.Status.Phase)
		}
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionFalse, nfs.ReasonApplyFailed)
	})
	assert.Contains(t, conditionMessage(clash, nfs.ConditionReconciled), "Service "+ns+"/web-metrics already exists")
	after := child(t, &corev1.Service{}, ns, "web-metrics", nil)
	assert.Equal(t, "web", after.Labels[nfs.LabelServer], "the first server's Service is left alone")
	assert.Equal(t, metrics.Spec.Selector, after.Spec.Selector)
}

func volumeSettings(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "retained")
	s.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	s.Spec.MountOptions = []string{"noatime"}
	create(t, s)
	pv := bindClaim(t, ns, s.Name)
	child(t, pv, "", pv.Name, func(pv *corev1.PersistentVolume) error {
		if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
			return fmt.Errorf("reclaim policy %s", pv.Spec.PersistentVolumeReclaimPolicy)
		}
		if fmt.Sprint(pv.Spec.MountOptions) != "[noatime]" {
			return fmt.Errorf("mount options %v", pv.Spec.MountOptions)
		}
		return nil
	})
	update(t, s, func(s *storageosv1.NFSServer) { s.Spec.MountOptions = []string{"noatime", "nodiratime"} })
	child(t, pv, "", pv.Name, func(pv *corev1.PersistentVolume) error {
		if fmt.Sprint(pv.Spec.MountOptions) != "[noatime nodiratime]" {
			return fmt.Errorf("mount options %v", pv.Spec.MountOptions)
		}
		return nil
	})
}

func deletion(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)

	// Delete (the default): the claim the operator created goes with the server; another controller's
	// finalizer stays.
	deleted := exampleServer(ns, "deleted")
	deleted.Finalizers = []string{"example.com/keep"}
	create(t, deleted)
	claim := child(t, &corev1.PersistentVolumeClaim{}, ns, deleted.Name, nil)
	serverStatus(t, deleted, func(s *storageosv1.NFSServer) error {
		if len(s.Finalizers) != 2 {
			return fmt.Errorf("finalizers %v", s.Finalizers)
		}
		return nil
	})
	require.NoError(t, testEnv.Client.Delete(ctx, deleted))
	// Kubernetes holds a deleted claim until no pod uses it (pvc-protection); no controller-manager runs here.
	child(t, claim, ns, claim.Name, func(c *corev1.PersistentVolumeClaim) error {
		if c.DeletionTimestamp.IsZero() {
			return fmt.Errorf("claim not deleted")
		}
		return nil
	})
	serverStatus(t, deleted, func(s *storageosv1.NFSServer) error {
		if fmt.Sprint(s.Finalizers) != "[example.com/keep]" {
			return fmt.Errorf("finalizers %v", s.Finalizers)
		}
		return nil
	})
	eventually(t, "one Terminating event", func(ctx context.Context) error {
		events, err := eventsOf(ctx, deleted, "Terminating")
		if err != nil {
			return err
		}
		if len(events) != 1 {
			return fmt.Errorf("%d Terminating events", len(events))
		}
		return nil
	})
	update(t, deleted, func(s *storageosv1.NFSServer) { s.Finalizers = nil })
	gone(t, deleted)

	// Retain: the claim stays.
	retained := exampleServer(ns, "kept")
	retained.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	create(t, retained)
	keptClaim := child(t, &corev1.PersistentVolumeClaim{}, ns, retained.Name, nil)
	serverStatus(t, retained, func(s *storageosv1.NFSServer) error {
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionTrue, nfs.ReasonAsExpected)
	})
	require.NoError(t, testEnv.Client.Delete(ctx, retained))
	gone(t, retained)
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(keptClaim), keptClaim))
	assert.True(t, keptClaim.DeletionTimestamp.IsZero(), "Retain keeps the claim")

	// A claim the user named is never deleted, whatever the policy.
	userClaim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "users-data", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
	create(t, userClaim)
	named := exampleServer(ns, "named")
	named.Spec.PersistentVolumeClaim.ClaimName = userClaim.Name
	named.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	create(t, named)
	sts := child(t, &appsv1.StatefulSet{}, ns, named.Name, nil)
	assert.Equal(t, userClaim.Name, sts.Spec.Template.Spec.Volumes[1].PersistentVolumeClaim.ClaimName)
	err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: named.Name}, &corev1.PersistentVolumeClaim{})
	assert.True(t, err != nil && client.IgnoreNotFound(err) == nil, "no claim is created when the spec names one: %v", err)
	assert.Empty(t, named.Spec.StorageClassName, "the class is pinned only for a claim the operator creates")
	require.NoError(t, testEnv.Client.Delete(ctx, named))
	gone(t, named)
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(userClaim), userClaim))
	assert.True(t, userClaim.DeletionTimestamp.IsZero(), "a named claim is never deleted")

	// The other objects carry the server as owner, for Kubernetes' garbage collector (not running here).
	for _, obj := range []client.Object{&corev1.Service{}, &corev1.ConfigMap{}, &corev1.ServiceAccount{}} {
		name := "kept"
		if _, ok := obj.(*corev1.ServiceAccount); ok {
			name = "storageos-nfs-kept"
		}
		child(t, obj, ns, name, nil)
		require.Len(t, obj.GetOwnerReferences(), 1)
		assert.Equal(t, "NFSServer", obj.GetOwnerReferences()[0].Kind)
	}
}

func missingClaim(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "orphan")
	s.Spec.PersistentVolumeClaim.ClaimName = "nowhere"
	create(t, s)
	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if s.Status.Phase != storageosv1.NFSServerPhaseFailed {
			return fmt.Errorf("phase %q", s.Status.Phase)
		}
		return hasCondition(s, nfs.ConditionReady, metav1.ConditionFalse, nfs.ReasonClaimMissing)
	})
	assert.Contains(t, conditionMessage(s, nfs.ConditionReady), "persistentVolumeClaim.claimName nowhere does not exist")
}

func conditionMessage(s *storageosv1.NFSServer, typ string) string {
	for _, c := range s.Status.Conditions {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

func serviceMonitor(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, apiextensionsv1.AddToScheme(testEnv.Client.Scheme()))
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "servicemonitors", Singular: "servicemonitor",
				Kind: "ServiceMonitor", ListKind: "ServiceMonitorList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
	create(t, crd)
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, crd) })

	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "monitored")
	create(t, s)
	sm := &unstructured.Unstructured{}
	sm.SetAPIVersion("monitoring.coreos.com/v1")
	sm.SetKind("ServiceMonitor")
	child(t, sm, ns, "monitored-metrics", nil)
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	metrics := child(t, &corev1.Service{}, ns, "monitored-metrics", nil)
	for k, v := range selector {
		assert.Equal(t, v, metrics.Labels[k], "the ServiceMonitor selects the metrics Service by %s", k)
	}
	server := child(t, &corev1.Service{}, ns, "monitored", nil)
	assert.NotEqual(t, selector["app.kubernetes.io/service-for"], server.Labels["app.kubernetes.io/service-for"],
		"and not the NFS Service")
	assert.Equal(t, names.ClusterManager, sm.GetLabels()[names.LabelManagedBy])
}

// The original labelled a server's objects as its own for the cluster, selected the pod by every label, and
// held the server with its own finalizer.
func migration(t *testing.T, c *storageosv1.StorageOSCluster) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	s := exampleServer(ns, "legacy")
	s.Finalizers = []string{nfs.LegacyFinalizer}
	s.Spec.StorageClassName = "fast"
	legacyLabels := map[string]string{"app": "storageos", names.LabelComponent: "nfs-server", names.LabelName: "storageos",
		names.LabelInstance: c.Name, names.LabelPartOf: "storageos", names.LabelManagedBy: names.LegacyOperator}
	podLabels := map[string]string{"nfsserver": s.Name, "storageos.com/fenced": "true"}
	for k, v := range legacyLabels {
		podLabels[k] = v
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: legacyLabels},
		Data: map[string]string{s.Name: "EXPORT { Export_Id = 57; }", "stale": "left by the original"}}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: legacyLabels},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), ServiceName: s.Name,
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nfsd", Image: "storageos/nfs:1.0.0"}}}}}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: legacyLabels},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To("fast"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	for _, obj := range []client.Object{cm, sts, claim} {
		create(t, obj)
	}
	create(t, s)

	serverStatus(t, s, func(s *storageosv1.NFSServer) error {
		if fmt.Sprint(s.Finalizers) != "["+nfs.Finalizer+"]" {
			return fmt.Errorf("finalizers %v", s.Finalizers)
		}
		return hasCondition(s, nfs.ConditionReconciled, metav1.ConditionTrue, nfs.ReasonAsExpected)
	})
	child(t, cm, ns, s.Name, func(cm *corev1.ConfigMap) error {
		if _, stale := cm.Data["stale"]; stale || cm.Labels[names.LabelManagedBy] != names.ClusterManager {
			return fmt.Errorf("not adopted: %v %v", cm.Labels, cm.Data)
		}
		return nil
	})
	child(t, &appsv1.StatefulSet{}, ns, s.Name, func(n *appsv1.StatefulSet) error {
		if n.UID == sts.UID || fmt.Sprint(n.Spec.Selector.MatchLabels) != fmt.Sprint(nfs.PodSelector(s)) {
			return fmt.Errorf("not recreated with the new selector yet")
		}
		return nil
	})
	adopted := child(t, &corev1.PersistentVolumeClaim{}, ns, s.Name, nil)
	assert.Equal(t, claim.UID, adopted.UID, "the claim, and its data, is kept")
	assert.Equal(t, names.ClusterManager, adopted.Labels[names.LabelManagedBy])
	eventually(t, "Adopted events", func(ctx context.Context) error {
		events, err := eventsOf(ctx, s, "Adopted")
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return fmt.Errorf("no Adopted event")
		}
		return nil
	})
	require.NoError(t, testEnv.Client.Delete(ctx, s))
	gone(t, s)
}
