package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// The cache keeps of a workload what discovery, scaling and the readiness check read, and drops the rest; so
// discovery over trimmed objects finds what it finds over whole ones.
func TestTrimForCacheKeepsWhatTheUpgradeReads(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "apps", ResourceVersion: "7", Generation: 3,
			Annotations:   map[string]string{ReplicasAnnotation: "2", corev1.LastAppliedConfigAnnotation: `{"a":"huge object"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"checksum": "abc"}},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{{Name: "app", Image: "web:1", Env: []corev1.EnvVar{{Name: "A", Value: "b"}}}},
			InitContainers: []corev1.Container{{Name: "init", Image: "init:1"}},
			Volumes:        []corev1.Volume{pvc("web-data")},
		},
	}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d := &appsv1.Deployment{ObjectMeta: meta("web"),
		Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: selector, Template: template},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, ReadyReplicas: 3, UpdatedReplicas: 3}}
	retain := &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
	claimTemplates := []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast")}}}
	s := &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), Selector: selector,
		Template: template, VolumeClaimTemplates: claimTemplates, PersistentVolumeClaimRetentionPolicy: retain}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: meta("web-data"),
		Spec:   corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast"), VolumeName: "pv-1"},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	volume := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"},
		Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: "csi.storageos.com", VolumeHandle: "v"}}},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}}
	inv := func() Inventory {
		return Inventory{StorageClasses: []storagev1.StorageClass{class("fast", "csi.storageos.com", false)},
			Claims: []corev1.PersistentVolumeClaim{*claim}, Volumes: []corev1.PersistentVolume{*volume},
			Deployments: []appsv1.Deployment{*d}, StatefulSets: []appsv1.StatefulSet{*s}}
	}
	before := StorageOSWorkloads(inv())
	require.Len(t, before, 2)

	for _, obj := range []any{d, s, claim, volume} {
		out, err := trimForCache(obj)
		require.NoError(t, err)
		assert.Same(t, obj, out, "trimmed in place")
		again, err := trimForCache(out)
		require.NoError(t, err)
		assert.Equal(t, out, again, "trimming twice changes nothing")
	}
	assert.Equal(t, before, StorageOSWorkloads(inv()), "discovery finds the same workloads")

	for _, m := range []metav1.ObjectMeta{d.ObjectMeta, s.ObjectMeta, claim.ObjectMeta} {
		assert.Nil(t, m.ManagedFields)
		assert.Equal(t, map[string]string{ReplicasAnnotation: "2"}, m.Annotations, "the upgrade's annotation stays, kubectl's copy goes")
		assert.Equal(t, "7", m.ResourceVersion, "the resource version stays: scaling back is conditional on it")
	}
	wantTemplate := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: template.Spec.Volumes}}
	assert.Equal(t, wantTemplate, d.Spec.Template, "of the pod template, the volumes only")
	assert.Equal(t, wantTemplate, s.Spec.Template)
	replicas, sel := workloadSpec(d)
	assert.Equal(t, int32(3), replicas)
	assert.Equal(t, selector, sel)
	assert.True(t, workloadReady(d), "the status stays, for the readiness check")
	assert.Equal(t, claimTemplates, s.Spec.VolumeClaimTemplates)
	assert.Equal(t, retain, s.Spec.PersistentVolumeClaimRetentionPolicy)
	assert.Empty(t, claim.Status)
	assert.Equal(t, "pv-1", claim.Spec.VolumeName)
	assert.Empty(t, volume.Status)

	tombstone := "not an object"
	out, err := trimForCache(tombstone)
	require.NoError(t, err)
	assert.Equal(t, tombstone, out)

	job := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelUpgrade: "1234"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "upgrade-manager"}}}}
	_, err = trimForCache(job)
	require.NoError(t, err)
	assert.Nil(t, job.ManagedFields, "every cached kind loses its managed fields")
	assert.Equal(t, "1234", job.Labels[LabelUpgrade])
}

// A cached pod keeps what the plan, the scale-down and the node step read, and nothing else.
func TestTrimPodKeepsWhatTheUpgradeReads(t *testing.T) {
	whole := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "storageos-daemonset-x", Namespace: "storageos", UID: "u",
				Labels:          map[string]string{"app": "storageos"},
				Annotations:     map[string]string{"kubectl.kubernetes.io/restartedAt": "now"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "storageos-daemonset"}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
			Spec: corev1.PodSpec{NodeName: "node-1",
				Containers: []corev1.Container{{Name: "storageos", Image: "storageos/node:v2.1.0",
					Env: []corev1.EnvVar{{Name: "A", Value: "b"}}, Args: []string{"server"}}},
				Volumes: []corev1.Volume{pvc("data"), {Name: "ephemeral", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
					{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1",
				Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
					{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "storageos", Ready: true}}},
		}
	}
	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "storageos-daemonset-x", Namespace: "storageos", UID: "u",
			Labels:          map[string]string{"app": "storageos"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "storageos-daemonset"}}},
		Spec: corev1.PodSpec{NodeName: "node-1",
			Containers: []corev1.Container{{Name: "storageos", Image: "storageos/node:v2.1.0"}},
			Volumes:    []corev1.Volume{pvc("data"), {Name: "ephemeral", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	once, err := trimForCache(whole())
	require.NoError(t, err)
	assert.Equal(t, want, once)
	twice, err := trimForCache(once)
	require.NoError(t, err)
	assert.Equal(t, want, twice, "trimming twice is trimming once, as informers require")
	pod := once.(*corev1.Pod)
	assert.Equal(t, "storageos/node:v2.1.0", nodeImage(&pod.Spec))
	assert.True(t, kube.PodReady(pod))
}
