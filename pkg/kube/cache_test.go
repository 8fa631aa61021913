package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/storageos/cluster-operator/pkg/kube"
)

func TestPodStatusOnly(t *testing.T) {
	nodePod := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "storageos-daemonset-x", Namespace: "storageos", UID: "u1",
				Labels:          map[string]string{"app": "storageos"},
				OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "storageos-daemonset", UID: "ds"}},
				ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
			Spec: corev1.PodSpec{NodeName: "node-1",
				Containers: []corev1.Container{{Name: "storageos", Env: []corev1.EnvVar{{Name: "K8S_NAMESPACE", Value: "storageos"}}}},
				Volumes:    []corev1.Volume{{Name: "state"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "storageos", RestartCount: 2}}},
		}
	}
	want := nodePod()
	want.ManagedFields = nil
	want.Spec = corev1.PodSpec{NodeName: "node-1"}

	tests := []struct {
		name string
		in   any
		want any
	}{
		{"a pod keeps its metadata, node and status", nodePod(), want},
		{"trimming twice is trimming once, as informers require", func() any { p, _ := kube.PodStatusOnly(nodePod()); return p }(), want},
		{"a tombstone passes unchanged", cache.DeletedFinalStateUnknown{Key: "storageos/x"}, cache.DeletedFinalStateUnknown{Key: "storageos/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kube.PodStatusOnly(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	trimmed, _ := kube.PodStatusOnly(nodePod())
	assert.True(t, kube.PodReady(trimmed.(*corev1.Pod)), "readiness is read from the trimmed pod")
}
