package upgrade

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

func class(name, provisioner string, isDefault bool) storagev1.StorageClass {
	sc := storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	if isDefault {
		sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	}
	return sc
}

func claim(name string, className *string, annotations map[string]string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className}}
}

func bound(c corev1.PersistentVolumeClaim, volume string) corev1.PersistentVolumeClaim {
	c.Spec.VolumeName = volume
	return c
}

func deploy(name string, replicas *int32, volumes ...corev1.Volume) appsv1.Deployment {
	return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{Replicas: replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: volumes}}}}
}

func pvc(claimName string) corev1.Volume {
	return corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName}}}
}

func ephemeral(className *string) corev1.Volume {
	return corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className}}}}}
}

func TestStorageOSWorkloads(t *testing.T) {
	classes := []storagev1.StorageClass{class("fast", "csi.storageos.com", false), class("ebs", "ebs.csi.aws.com", false)}
	withDefault := func(name string) []storagev1.StorageClass {
		out := append([]storagev1.StorageClass{}, classes...)
		for i := range out {
			if out[i].Name == name {
				out[i].Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
			}
		}
		return out
	}
	claims := []corev1.PersistentVolumeClaim{
		claim("csi", ptr.To("fast"), nil),
		claim("aws", ptr.To("ebs"), nil),
		claim("defaulted", nil, nil),
		bound(claim("static-csi", ptr.To(""), nil), "pv-csi"),
		bound(claim("static-other", ptr.To(""), nil), "pv-other"),
	}
	pvs := []corev1.PersistentVolume{
		{ObjectMeta: metav1.ObjectMeta{Name: "pv-csi"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "csi.storageos.com", VolumeHandle: "v1"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pv-other"}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "v3"}}}},
	}
	// Which volumes are StorageOS's is volumes.PodUsesStorageOS's table test; these cases read each index of
	// the inventory: claims, classes, the default class and volumes.
	cases := []struct {
		name    string
		classes []storagev1.StorageClass
		deploy  appsv1.Deployment
		want    bool
	}{
		{"CSI class", classes, deploy("a", nil, pvc("csi")), true},
		{"other provisioner", classes, deploy("a", nil, pvc("aws")), false},
		{"claim without class, StorageOS default", withDefault("fast"), deploy("a", nil, pvc("defaulted")), true},
		{"claim without class, other default", withDefault("ebs"), deploy("a", nil, pvc("defaulted")), false},
		{"claim missing", classes, deploy("a", nil, pvc("missing")), false},
		{"claim bound to a StorageOS CSI volume, no class", classes, deploy("a", nil, pvc("static-csi")), true},
		{"claim bound to another driver's volume", classes, deploy("a", nil, pvc("static-other")), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := StorageOSWorkloads(Inventory{StorageClasses: tc.classes, Claims: claims, Volumes: pvs, Deployments: []appsv1.Deployment{tc.deploy}})
			if tc.want {
				assert.Equal(t, []storageosv1.ScaledWorkload{{Kind: storageosv1.WorkloadKindDeployment, Namespace: "apps", Name: "a", Replicas: 1}}, got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

func TestStatefulSetsAreFoundByTheirClaimTemplates(t *testing.T) {
	set := func(name string, replicas int32, className string) appsv1.StatefulSet {
		return appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "db"}, Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To(replicas),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(className)}}}}}
	}
	got := StorageOSWorkloads(Inventory{
		StorageClasses: []storagev1.StorageClass{class("fast", "csi.storageos.com", false), class("ebs", "ebs.csi.aws.com", true)},
		StatefulSets:   []appsv1.StatefulSet{set("pg", 3, "fast"), set("redis", 1, "ebs"), set("mysql", 0, "fast")},
		Deployments:    []appsv1.Deployment{deploy("web", ptr.To[int32](2), ephemeral(ptr.To("fast")))},
	})
	assert.Equal(t, []storageosv1.ScaledWorkload{
		{Kind: storageosv1.WorkloadKindDeployment, Namespace: "apps", Name: "web", Replicas: 2},
		{Kind: storageosv1.WorkloadKindStatefulSet, Namespace: "db", Name: "mysql", Replicas: 0},
		{Kind: storageosv1.WorkloadKindStatefulSet, Namespace: "db", Name: "pg", Replicas: 3},
	}, got, "sorted by kind, namespace, name; a workload at zero is found (and left alone by the upgrade)")
}

// The image pull Job runs newImage where the node DaemonSet runs, with no host access.
func TestPullJobRunsTheNewImageWhereTheNodesRun(t *testing.T) {
	terms := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "storage", Operator: corev1.NodeSelectorOpExists}}}}
	tolerations := []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "storageos-daemonset", Namespace: "storageos"},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Tolerations: tolerations,
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}}}}}
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "up", Namespace: "default", UID: "1234"},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.2.0"}}

	job := PullJob(u, ds)
	assert.Equal(t, "storageos", job.Namespace)
	assert.Equal(t, "1234", job.Labels[LabelUpgrade])
	assert.Equal(t, storageosv1.ImageReference("storageos/node:v2.2.0"), job.Spec.Image)
	assert.Equal(t, terms, job.Spec.NodeSelectorTerms)
	assert.Equal(t, tolerations, job.Spec.Tolerations)
	assert.Empty(t, job.Spec.HostPath, "no host directory, and so no runtime socket")
	assert.Contains(t, job.Spec.Command[2], "echo "+job.Spec.CompletionWord)

	none := PullJob(u, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "storageos"}})
	assert.Empty(t, none.Spec.NodeSelectorTerms, "every node when the DaemonSet has no affinity")
}

// Workloads come from the cache, which may lag behind. Scaling down again from a stale copy only repeats what
// was done; scaling back from one could undo a change made since (an autoscaler's, the user's), so it fails
// with a conflict, and the next look scales back from the newer copy, or not at all.
func TestScalingBackFromAStaleCopyConflicts(t *testing.T) {
	ctx := context.Background()
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	api := fake.NewClientBuilder().WithScheme(manager.NewScheme()).WithObjects(web).Build()
	r := &Reconciler{Client: api}
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "up", Namespace: "storageos"}}
	current := func() *appsv1.Deployment {
		d := &appsv1.Deployment{}
		require.NoError(t, api.Get(ctx, client.ObjectKeyFromObject(web), d))
		return d
	}

	stale := current()
	require.NoError(t, r.scale(ctx, current(), 0, 3, u))
	require.NoError(t, r.scale(ctx, stale, 0, 3, u), "scaling down from a stale copy repeats the scale-down")
	assert.Equal(t, int32(0), *current().Spec.Replicas)
	assert.Equal(t, "3", current().Annotations[ReplicasAnnotation])

	annotated := current()
	require.NoError(t, r.scale(ctx, current(), 3, 3, nil))
	scaledByUser := current()
	scaledByUser.Spec.Replicas = ptr.To[int32](5)
	require.NoError(t, api.Update(ctx, scaledByUser))

	err := r.scale(ctx, annotated, 3, 3, nil)
	assert.True(t, apierrors.IsConflict(err), "a copy from before the scale-back conflicts: %v", err)
	assert.Equal(t, int32(5), *current().Spec.Replicas, "the user's change stays")
	assert.NotContains(t, current().Annotations, ReplicasAnnotation)
}
