package upgrade_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// The plan's world: namespace "shop", class "fast" is StorageOS's, "ebs" is not. Which volumes are StorageOS's
// is volumes.PodUsesStorageOS's table test; these tests are about whose pods they are.
const shop = "shop"

func planClaim(name, class string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}}
}

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func ephemeralVolume(name, class string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}}}}}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func planDeployment(name string, replicas int32, vols ...corev1.Volume) appsv1.Deployment {
	return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: vols}}}}
}

func planStatefulSet(name string, replicas int32, templates []string, vols ...corev1.Volume) appsv1.StatefulSet {
	s := appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: vols}}}}
	for _, t := range templates {
		class, name, _ := strings.Cut(t, "/")
		s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}})
	}
	return s
}

// controller is a controller owner reference, as Kubernetes' controllers set them.
func controller(apiVersion, kind, name string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID("uid-" + name), Controller: ptr.To(true)}
}

func owned(name string, owners ...metav1.OwnerReference) metav1.PartialObjectMetadata {
	return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name, OwnerReferences: owners}}
}

func planPod(name string, owners []metav1.OwnerReference, vols ...corev1.Volume) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name, OwnerReferences: owners},
		Spec: corev1.PodSpec{Volumes: vols}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
}

func ownedBy(refs ...metav1.OwnerReference) []metav1.OwnerReference { return refs }

// shopInput is a cluster with an application of every kind, and their owners. Pods are added by each case.
func shopInput() upgrade.PlanInput {
	return upgrade.PlanInput{
		Inventory: upgrade.Inventory{
			StorageClasses: []storagev1.StorageClass{
				{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "csi.storageos.com"},
				{ObjectMeta: metav1.ObjectMeta{Name: "ebs"}, Provisioner: "ebs.csi.aws.com"},
			},
			Claims: []corev1.PersistentVolumeClaim{
				planClaim("web-data", "fast"), planClaim("web-scratch", "ebs"), planClaim("data-db-0", "fast"),
				planClaim("idle-data", "fast"), planClaim("old-data", "fast"), planClaim("cache-data", "ebs"),
				planClaim("debug-data", "fast"), planClaim("backup-data", "fast"), planClaim("logs", "fast"),
				planClaim("pg-data", "fast"),
			},
			Deployments: []appsv1.Deployment{
				planDeployment("web", 3, claimVolume("data", "web-data"), claimVolume("scratch", "web-scratch"), ephemeralVolume("cache", "fast")),
				planDeployment("idle", 0, claimVolume("data", "idle-data")),
				// Rolled out to a template without StorageOS volumes; a pod of the old template still runs.
				planDeployment("migrated", 2, claimVolume("data", "cache-data")),
				planDeployment("cache", 2, claimVolume("data", "cache-data")),
			},
			StatefulSets: []appsv1.StatefulSet{
				planStatefulSet("db", 2, []string{"fast/data", "ebs/wal"}),
			},
		},
		ReplicaSets: []metav1.PartialObjectMetadata{
			owned("web-5d8f", controller("apps/v1", "Deployment", "web")),
			owned("idle-7c9b", controller("apps/v1", "Deployment", "idle")),
			owned("migrated-old", controller("apps/v1", "Deployment", "migrated")),
			owned("cache-6f7a", controller("apps/v1", "Deployment", "cache")),
			owned("gone-1a2b", controller("apps/v1", "Deployment", "gone")),
			owned("canary-9e8d", controller("argoproj.io/v1alpha1", "Rollout", "canary")),
			owned("bare-rs"),
		},
		Jobs: []metav1.PartialObjectMetadata{
			owned("backup-28912", controller("batch/v1", "CronJob", "backup")),
			owned("import"),
		},
		FromImage: "storageos/node:v2.1.0",
		ToImage:   "storageos/node:v2.2.0",
		Nodes:     3,
	}
}

func TestPlanPods(t *testing.T) {
	cases := []struct {
		name string
		pod  corev1.Pod
		want *storageosv1.UnstoppablePod // nil: stopped by the upgrade, or not using StorageOS
	}{
		{"a Deployment's pod, through its ReplicaSet, is stopped by scaling the Deployment down",
			planPod("web-5d8f-x1", ownedBy(controller("apps/v1", "ReplicaSet", "web-5d8f")), claimVolume("data", "web-data")), nil},
		{"a StatefulSet's pod on a claim of its volumeClaimTemplates is stopped by scaling the StatefulSet down",
			planPod("db-0", ownedBy(controller("apps/v1", "StatefulSet", "db")), claimVolume("data", "data-db-0")), nil},
		{"a pod not using StorageOS is ignored, whoever owns it",
			planPod("lonely", nil, claimVolume("data", "cache-data"), emptyDir("tmp")), nil},
		{"a finished pod holds no volume",
			func() corev1.Pod {
				p := planPod("report", nil, claimVolume("data", "debug-data"))
				p.Status.Phase = corev1.PodSucceeded
				return p
			}(), nil},
		{"a bare pod",
			planPod("debug", nil, claimVolume("data", "debug-data"), emptyDir("tmp")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "debug", OwnerKind: "None", Reason: storageosv1.UnstoppableNoOwner, Claims: []string{"debug-data"}}},
		{"a pod with owners but no controller is a bare pod (garbage collection only)",
			planPod("attached", ownedBy(metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "cfg", UID: "u"}), claimVolume("data", "debug-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "attached", OwnerKind: "None", Reason: storageosv1.UnstoppableNoOwner, Claims: []string{"debug-data"}}},
		{"a Job's pod, on a generic ephemeral volume",
			planPod("import-q7", ownedBy(controller("batch/v1", "Job", "import")), ephemeralVolume("scratch", "fast")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "import-q7", OwnerKind: "Job", OwnerName: "import", Reason: storageosv1.UnstoppableJob, Claims: []string{"import-q7-scratch"}}},
		{"a CronJob's pod is named by its CronJob, through its Job",
			planPod("backup-28912-k2", ownedBy(controller("batch/v1", "Job", "backup-28912")), claimVolume("data", "backup-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "backup-28912-k2", OwnerKind: "CronJob", OwnerName: "backup", Reason: storageosv1.UnstoppableCronJob, Claims: []string{"backup-data"}}},
		{"a Job's pod whose Job was not read is a Job's",
			planPod("once-z", ownedBy(controller("batch/v1", "Job", "once")), claimVolume("data", "backup-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "once-z", OwnerKind: "Job", OwnerName: "once", Reason: storageosv1.UnstoppableJob, Claims: []string{"backup-data"}}},
		{"a DaemonSet's pod",
			planPod("logger-abc", ownedBy(controller("apps/v1", "DaemonSet", "logger")), claimVolume("logs", "logs")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "logger-abc", OwnerKind: "DaemonSet", OwnerName: "logger", Reason: storageosv1.UnstoppableDaemonSet, Claims: []string{"logs"}}},
		{"another operator's pod",
			planPod("pg-0", ownedBy(controller("postgres.example.com/v1", "Database", "pg")), claimVolume("data", "pg-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "pg-0", OwnerKind: "Database", OwnerName: "pg", Reason: storageosv1.UnstoppableOtherOwner, Claims: []string{"pg-data"}}},
		{"a pod of a ReplicaSet another controller manages (Argo Rollouts)",
			planPod("canary-9e8d-a", ownedBy(controller("apps/v1", "ReplicaSet", "canary-9e8d")), claimVolume("data", "pg-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "canary-9e8d-a", OwnerKind: "Rollout", OwnerName: "canary", Reason: storageosv1.UnstoppableOtherOwner, Claims: []string{"pg-data"}}},
		{"a pod of a bare ReplicaSet",
			planPod("bare-rs-b", ownedBy(controller("apps/v1", "ReplicaSet", "bare-rs")), claimVolume("data", "pg-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "bare-rs-b", OwnerKind: "ReplicaSet", OwnerName: "bare-rs", Reason: storageosv1.UnstoppableOtherOwner, Claims: []string{"pg-data"}}},
		{"a pod of a kind with the name of an apps kind in another group is another operator's",
			planPod("fake-0", ownedBy(controller("example.com/v1", "StatefulSet", "db")), claimVolume("data", "data-db-0")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "fake-0", OwnerKind: "StatefulSet", OwnerName: "db", Reason: storageosv1.UnstoppableOtherOwner, Claims: []string{"data-db-0"}}},
		{"a pod of a Deployment the upgrade does not scale: its current template uses no StorageOS volume, this pod of the old one does",
			planPod("migrated-old-c", ownedBy(controller("apps/v1", "ReplicaSet", "migrated-old")), claimVolume("data", "old-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "migrated-old-c", OwnerKind: "Deployment", OwnerName: "migrated", Reason: storageosv1.UnstoppableOwnerNotScaled, Claims: []string{"old-data"}}},
		{"a pod of a Deployment scaled to zero, still going",
			planPod("idle-7c9b-d", ownedBy(controller("apps/v1", "ReplicaSet", "idle-7c9b")), claimVolume("data", "idle-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "idle-7c9b-d", OwnerKind: "Deployment", OwnerName: "idle", Reason: storageosv1.UnstoppableOwnerNotScaled, Claims: []string{"idle-data"}}},
		{"a pod whose ReplicaSet was not read is never taken for stoppable",
			planPod("web-new-e", ownedBy(controller("apps/v1", "ReplicaSet", "web-new")), claimVolume("data", "web-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "web-new-e", OwnerKind: "ReplicaSet", OwnerName: "web-new", Reason: storageosv1.UnstoppableOwnerNotFound, Claims: []string{"web-data"}}},
		{"a pod of a Deployment not in the inventory (deleted, or created since)",
			planPod("gone-1a2b-f", ownedBy(controller("apps/v1", "ReplicaSet", "gone-1a2b")), claimVolume("data", "web-data")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "gone-1a2b-f", OwnerKind: "Deployment", OwnerName: "gone", Reason: storageosv1.UnstoppableOwnerNotFound, Claims: []string{"web-data"}}},
		{"a pod of a StatefulSet not in the inventory",
			planPod("new-0", ownedBy(controller("apps/v1", "StatefulSet", "new")), claimVolume("data", "data-db-0")),
			&storageosv1.UnstoppablePod{Namespace: shop, Name: "new-0", OwnerKind: "StatefulSet", OwnerName: "new", Reason: storageosv1.UnstoppableOwnerNotFound, Claims: []string{"data-db-0"}}},
		{"the owner of a pod is looked up in the pod's namespace",
			func() corev1.Pod {
				p := planPod("web-5d8f-x1", ownedBy(controller("apps/v1", "ReplicaSet", "web-5d8f")), ephemeralVolume("data", "fast"))
				p.Namespace = "other"
				return p
			}(),
			&storageosv1.UnstoppablePod{Namespace: "other", Name: "web-5d8f-x1", OwnerKind: "ReplicaSet", OwnerName: "web-5d8f", Reason: storageosv1.UnstoppableOwnerNotFound, Claims: []string{"web-5d8f-x1-data"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := shopInput()
			in.Pods = []corev1.Pod{c.pod}
			p := upgrade.ComputePlan(in)
			if c.want == nil {
				assert.Empty(t, p.UnstoppablePods)
				assert.Zero(t, p.Summary.UnstoppablePods)
				assert.Empty(t, upgrade.BlockingMessage(&p))
				return
			}
			assert.Equal(t, []storageosv1.UnstoppablePod{*c.want}, p.UnstoppablePods)
			assert.Equal(t, int32(1), p.Summary.UnstoppablePods)
			assert.Contains(t, upgrade.BlockingMessage(&p), c.want.Namespace+"/"+c.want.Name)
		})
	}
}

func TestPlanApplications(t *testing.T) {
	p := upgrade.ComputePlan(shopInput())
	assert.Equal(t, []storageosv1.PlannedApplication{
		// The claims that make each StorageOS's, and only those: web's "scratch" is on ebs, db's "wal" template too.
		{Kind: storageosv1.WorkloadKindDeployment, Namespace: shop, Name: "web", Replicas: 3, Claims: []string{"web-data", "web-*-cache"}},
		{Kind: storageosv1.WorkloadKindStatefulSet, Namespace: shop, Name: "db", Replicas: 2, Claims: []string{"data-db-*"}},
	}, p.Applications, "idle (0 replicas), migrated and cache (no StorageOS volume) are not scaled")
	assert.Equal(t, storageosv1.PlanSummary{Applications: 2, Nodes: 3}, p.Summary)
	assert.Equal(t, "storageos/node:v2.1.0", p.FromImage)
	assert.Equal(t, "storageos/node:v2.2.0", p.ToImage)
	assert.Empty(t, p.Warnings, "a minor upgrade in the same repository")
	assert.Empty(t, upgrade.BlockingMessage(&p))
}

func TestPlanListsClaimsOfAStatefulSetsPodTemplate(t *testing.T) {
	in := shopInput()
	in.Inventory.StatefulSets = []appsv1.StatefulSet{planStatefulSet("queue", 1, nil, ephemeralVolume("spool", "fast"), claimVolume("shared", "web-data"))}
	p := upgrade.ComputePlan(in)
	require.Len(t, p.Applications, 2)
	assert.Equal(t, "queue", p.Applications[1].Name, "sorted by kind, namespace and name")
	assert.Equal(t, []string{"queue-*-spool", "web-data"}, p.Applications[1].Claims)
}

func TestPlanAutoscalers(t *testing.T) {
	hpa := func(name, apiVersion, kind, target string, minReplicas *int32) autoscalingv2.HorizontalPodAutoscaler {
		return autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: name},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: minReplicas, MaxReplicas: 10,
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target}}}
	}
	cases := []struct {
		name string
		hpa  autoscalingv2.HorizontalPodAutoscaler
		want *storageosv1.PlannedAutoscaler
	}{
		{"an autoscaler of a Deployment in the plan is suspended by Kubernetes while it is at zero",
			hpa("web", "apps/v1", "Deployment", "web", ptr.To[int32](2)),
			&storageosv1.PlannedAutoscaler{Namespace: shop, Name: "web", TargetKind: storageosv1.WorkloadKindDeployment, TargetName: "web", MinReplicas: 2, Handling: storageosv1.AutoscalerHandlingNone}},
		{"minReplicas unset is 1",
			hpa("db", "apps/v1", "StatefulSet", "db", nil),
			&storageosv1.PlannedAutoscaler{Namespace: shop, Name: "db", TargetKind: storageosv1.WorkloadKindStatefulSet, TargetName: "db", MinReplicas: 1, Handling: storageosv1.AutoscalerHandlingNone}},
		{"minReplicas 0 keeps autoscaling at zero: it blocks",
			hpa("db-zero", "apps/v1", "StatefulSet", "db", ptr.To[int32](0)),
			&storageosv1.PlannedAutoscaler{Namespace: shop, Name: "db-zero", TargetKind: storageosv1.WorkloadKindStatefulSet, TargetName: "db", MinReplicas: 0, Handling: storageosv1.AutoscalerHandlingBlocks}},
		{"an autoscaler of an application not in the plan is not the upgrade's concern",
			hpa("cache", "apps/v1", "Deployment", "cache", ptr.To[int32](0)), nil},
		{"an autoscaler of another group's kind of the same name",
			hpa("other", "example.com/v1", "Deployment", "web", nil), nil},
		{"an autoscaler of another namespace's web",
			func() autoscalingv2.HorizontalPodAutoscaler {
				h := hpa("web", "apps/v1", "Deployment", "web", nil)
				h.Namespace = "other"
				return h
			}(), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := shopInput()
			in.Autoscalers = []autoscalingv2.HorizontalPodAutoscaler{c.hpa}
			p := upgrade.ComputePlan(in)
			if c.want == nil {
				assert.Empty(t, p.Autoscalers)
				assert.Zero(t, p.Summary.Autoscalers)
				return
			}
			assert.Equal(t, []storageosv1.PlannedAutoscaler{*c.want}, p.Autoscalers)
			assert.Equal(t, int32(1), p.Summary.Autoscalers)
			blocks := c.want.Handling == storageosv1.AutoscalerHandlingBlocks
			assert.Equal(t, map[bool]int32{true: 1}[blocks], p.Summary.BlockingAutoscalers)
			if blocks {
				assert.Contains(t, upgrade.BlockingMessage(&p), "shop/"+c.want.Name+" (of StatefulSet db)")
			} else {
				assert.Empty(t, upgrade.BlockingMessage(&p))
			}
		})
	}
}

// The whole world at once, shuffled: the plan is the same, sorted, whatever order the lists come in.
func TestPlanIsDeterministic(t *testing.T) {
	in := shopInput()
	in.Pods = []corev1.Pod{
		planPod("web-5d8f-x1", ownedBy(controller("apps/v1", "ReplicaSet", "web-5d8f")), claimVolume("data", "web-data")),
		planPod("debug", nil, claimVolume("data", "debug-data")),
		planPod("backup-28912-k2", ownedBy(controller("batch/v1", "Job", "backup-28912")), claimVolume("data", "backup-data")),
		planPod("logger-abc", ownedBy(controller("apps/v1", "DaemonSet", "logger")), claimVolume("logs", "logs")),
		planPod("cache-6f7a-g", ownedBy(controller("apps/v1", "ReplicaSet", "cache-6f7a")), claimVolume("data", "cache-data")),
	}
	in.Autoscalers = []autoscalingv2.HorizontalPodAutoscaler{
		{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "b"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "a"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}}},
	}
	want := upgrade.ComputePlan(in)
	assert.Equal(t, []string{"backup-28912-k2", "debug", "logger-abc"}, podNames(want.UnstoppablePods))
	assert.Equal(t, "a", want.Autoscalers[0].Name)
	assert.Equal(t, storageosv1.PlanSummary{Applications: 2, UnstoppablePods: 3, Autoscalers: 2, Nodes: 3}, want.Summary)

	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a seeded shuffle for a repeatable test, not a secret
	for range 20 {
		shuffled := shopInput()
		shuffled.Pods, shuffled.Autoscalers = slices.Clone(in.Pods), slices.Clone(in.Autoscalers)
		shuffle(r, shuffled.Pods)
		shuffle(r, shuffled.Autoscalers)
		shuffle(r, shuffled.Inventory.Deployments)
		shuffle(r, shuffled.ReplicaSets)
		require.Equal(t, want, upgrade.ComputePlan(shuffled))
	}
}

func shuffle[T any](r *rand.Rand, s []T) {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

func podNames(pods []storageosv1.UnstoppablePod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// A plan is written into the upgrade's status: its lists stop at PlanListMax, whatever the cluster's size, and
// say how many more there are; the summary counts them all.
func TestPlanListsAreBounded(t *testing.T) {
	in := shopInput()
	const apps, bare = 1203, 777
	in.Inventory.Deployments, in.Inventory.StatefulSets = nil, nil
	for i := range apps {
		d := planDeployment(fmt.Sprintf("app-%04d", i), 1, claimVolume("data", "web-data"))
		in.Inventory.Deployments = append(in.Inventory.Deployments, d)
		in.Autoscalers = append(in.Autoscalers, autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: d.Name},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](0),
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name}}})
	}
	for i := range bare {
		in.Pods = append(in.Pods, planPod(fmt.Sprintf("bare-%04d", i), nil, claimVolume("data", "debug-data")))
	}
	in.Nodes = 5000
	p := upgrade.ComputePlan(in)

	assert.Len(t, p.Applications, storageosv1.PlanListMax)
	assert.Equal(t, int32(apps-storageosv1.PlanListMax), p.ApplicationsOmitted)
	assert.Len(t, p.UnstoppablePods, storageosv1.PlanListMax)
	assert.Equal(t, int32(bare-storageosv1.PlanListMax), p.UnstoppablePodsOmitted)
	assert.Len(t, p.Autoscalers, storageosv1.PlanListMax)
	assert.Equal(t, int32(apps-storageosv1.PlanListMax), p.AutoscalersOmitted)
	assert.Equal(t, storageosv1.PlanSummary{Applications: apps, UnstoppablePods: bare, Autoscalers: apps, BlockingAutoscalers: apps, Nodes: 5000}, p.Summary)
	assert.Equal(t, "app-0000", p.Applications[0].Name, "the first ones in order are kept")
	assert.Equal(t, fmt.Sprintf("bare-%04d", storageosv1.PlanListMax-1), p.UnstoppablePods[storageosv1.PlanListMax-1].Name)

	message := upgrade.BlockingMessage(&p)
	assert.Contains(t, message, "777 pods using StorageOS volumes cannot be stopped by the upgrade: shop/bare-0000 (no owner), ")
	assert.Contains(t, message, "shop/bare-0004 (no owner) and 772 more")
	assert.Contains(t, message, "1203 HorizontalPodAutoscalers with minReplicas 0")
	assert.Contains(t, message, "and 1198 more")
	assert.Contains(t, message, "set spec.acceptUnstoppablePods: true")
	assert.Less(t, len(message), 1024, "fits an event's note")
}

func TestPlanClaimsOfAnEntryAreBounded(t *testing.T) {
	in := shopInput()
	var vols []corev1.Volume
	for i := range 12 {
		vols = append(vols, ephemeralVolume(fmt.Sprintf("v%02d", i), "fast"))
	}
	in.Pods = []corev1.Pod{planPod("many", nil, vols...)}
	p := upgrade.ComputePlan(in)
	require.Len(t, p.UnstoppablePods, 1)
	claims := p.UnstoppablePods[0].Claims
	require.Len(t, claims, storageosv1.PlanClaimsMax)
	assert.Equal(t, []string{"many-v00", "many-v01", "many-v02", "+9 more"}, claims)
}

func TestPlanWarnings(t *testing.T) {
	t.Run("the seed's sample: a downgrade across a major version, warned and never refused", func(t *testing.T) {
		in := shopInput()
		in.ToImage = "storageos/node:1.0.0"
		p := upgrade.ComputePlan(in)
		require.Len(t, p.Warnings, 2)
		assert.Contains(t, p.Warnings[0], "v2.1.0 to 1.0.0 is a downgrade")
		assert.Contains(t, p.Warnings[1], "changes the major version (2 to 1)")
		assert.Empty(t, upgrade.BlockingMessage(&p), "warnings hold nothing back")
	})
	t.Run("no node pod scheduled", func(t *testing.T) {
		in := shopInput()
		in.Nodes = 0
		assert.Equal(t, []string{"the node DaemonSet schedules no StorageOS pod: the upgrade would wait for nodes to upgrade"},
			upgrade.ComputePlan(in).Warnings)
	})
	t.Run("StatefulSets that delete their claims when scaled down are named, a few", func(t *testing.T) {
		in := shopInput()
		for i := range 12 {
			s := planStatefulSet(fmt.Sprintf("s%02d", i), 1, []string{"fast/data"})
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
			in.Inventory.StatefulSets = append(in.Inventory.StatefulSets, s)
		}
		w := upgrade.ComputePlan(in).Warnings
		require.Len(t, w, 1)
		assert.True(t, strings.HasPrefix(w[0], "StatefulSets shop/s00, shop/s01, "), w[0])
		assert.Contains(t, w[0], "shop/s09, and 2 more delete their PVCs when scaled down")
		assert.Contains(t, w[0], "an upgrade started now fails at once")
	})
}

func TestPlanDiff(t *testing.T) {
	base := func() upgrade.PlanInput {
		in := shopInput()
		in.Pods = []corev1.Pod{planPod("debug", nil, claimVolume("data", "debug-data"))}
		return in
	}
	shown := upgrade.ComputePlan(base())
	cases := []struct {
		name   string
		change func(*upgrade.PlanInput)
		want   []string
	}{
		{"nothing changed", func(*upgrade.PlanInput) {}, nil},
		{"an application created while previewing", func(in *upgrade.PlanInput) {
			in.Inventory.Deployments = append(in.Inventory.Deployments, planDeployment("shop-new", 1, claimVolume("data", "web-data")))
		}, []string{"applications to scale down: 3 (was 2)", "Deployment shop/shop-new added (1 replica)"}},
		{"an application scaled while previewing", func(in *upgrade.PlanInput) {
			in.Inventory.Deployments[0].Spec.Replicas = ptr.To[int32](5)
		}, []string{"Deployment shop/web: 5 replicas (was 3)"}},
		{"an application deleted, or scaled to zero", func(in *upgrade.PlanInput) {
			in.Inventory.StatefulSets = nil
		}, []string{"applications to scale down: 1 (was 2)", "StatefulSet shop/db removed"}},
		{"an unstoppable pod went, another appeared", func(in *upgrade.PlanInput) {
			in.Pods = []corev1.Pod{planPod("backup-28912-k2", ownedBy(controller("batch/v1", "Job", "backup-28912")), claimVolume("data", "backup-data"))}
		}, []string{"unstoppable pod shop/backup-28912-k2 appeared", "unstoppable pod shop/debug is gone"}},
		{"an unstoppable pod went", func(in *upgrade.PlanInput) {
			in.Pods = nil
		}, []string{"unstoppable pods: 0 (was 1)", "unstoppable pod shop/debug is gone"}},
		{"an autoscaler that blocks appeared; one that does not is no news", func(in *upgrade.PlanInput) {
			in.Autoscalers = []autoscalingv2.HorizontalPodAutoscaler{
				{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "zero"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](0),
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}},
				{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "one"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
					ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}},
			}
		}, []string{"blocking autoscalers: 1 (was 0)", "blocking autoscaler shop/zero appeared"}},
		{"the cluster's image and nodes changed, with a new warning", func(in *upgrade.PlanInput) {
			in.FromImage, in.Nodes = "storageos/node:v2.3.0", 4
		}, []string{"nodes: 4 (was 3)", "the cluster runs storageos/node:v2.3.0 (was storageos/node:v2.1.0)",
			"warning: v2.3.0 to v2.2.0 is a downgrade: data written by v2.3.0 may not be readable by v2.2.0; make sure StorageOS supports going back"}},
		{"many changes are counted, not all listed", func(in *upgrade.PlanInput) {
			for i := range 20 {
				in.Inventory.Deployments = append(in.Inventory.Deployments, planDeployment(fmt.Sprintf("n%02d", i), 1, claimVolume("data", "web-data")))
			}
		}, []string{"applications to scale down: 22 (was 2)", "Deployment shop/n00 added (1 replica)", "Deployment shop/n01 added (1 replica)",
			"Deployment shop/n02 added (1 replica)", "Deployment shop/n03 added (1 replica)", "Deployment shop/n04 added (1 replica)",
			"Deployment shop/n05 added (1 replica)", "and 14 more differences"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.change(&in)
			fresh := upgrade.ComputePlan(in)
			assert.Equal(t, c.want, upgrade.PlanDiff(&shown, &fresh))
		})
	}
}

// The refusal's words: who, why, what to do, and the field that accepts the risk.
func TestBlockingMessage(t *testing.T) {
	in := shopInput()
	in.Pods = []corev1.Pod{planPod("backup-28912-k2", ownedBy(controller("batch/v1", "Job", "backup-28912")), claimVolume("data", "backup-data"))}
	in.Autoscalers = []autoscalingv2.HorizontalPodAutoscaler{{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "db"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](0),
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}}}}
	p := upgrade.ComputePlan(in)
	assert.Equal(t, "1 pod using StorageOS volumes cannot be stopped by the upgrade: shop/backup-28912-k2 (CronJob backup); "+
		"1 HorizontalPodAutoscaler with minReplicas 0 could start its application again while StorageOS is offline: shop/db (of StatefulSet db). "+
		"StorageOS volumes would stay mounted while its node pods are replaced, which can lose the data written to them: "+
		"the upgrade waits until the pod is gone and the autoscaler's minReplicas is at least 1 (or it is deleted), "+
		"or set spec.acceptUnstoppablePods: true to accept the risk", upgrade.BlockingMessage(&p))

	in.Autoscalers = nil
	in.Pods = append(in.Pods, planPod("migrated-old-c", ownedBy(controller("apps/v1", "ReplicaSet", "migrated-old")), claimVolume("data", "old-data")))
	p = upgrade.ComputePlan(in)
	assert.Equal(t, "2 pods using StorageOS volumes cannot be stopped by the upgrade: shop/backup-28912-k2 (CronJob backup), "+
		"shop/migrated-old-c (Deployment migrated, which the upgrade does not scale down). "+
		"StorageOS volumes would stay mounted while its node pods are replaced, which can lose the data written to them: "+
		"the upgrade waits until the pods are gone, or set spec.acceptUnstoppablePods: true to accept the risk", upgrade.BlockingMessage(&p))
}
