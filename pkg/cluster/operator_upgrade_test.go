//go:build !mutation

package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Upgrading the operator never restarts storage pods. A previous release left the node DaemonSet with a
// template that differs from the current one only in the operator's own metadata; the current
// cluster-manager converges the template, the running node pods stay (OnDelete), and the status says how
// many run the old template instead of restarting them.
func TestOperatorUpgradeNeverRestartsNodePods(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, nil)
	nodesUp(t, c, "node-a", "node-b", "node-c")
	eventuallyCondition(t, c, cluster.ConditionNodesUpToDate, metav1.ConditionTrue, cluster.ReasonUpToDate)
	pods := map[string]types.UID{}
	for _, node := range []string{"node-a", "node-b", "node-c"} {
		pod := inNS(c, "storageos-"+node, &corev1.Pod{})
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod))
		pods[pod.Name] = pod.UID
	}

	// The previous release's desired state, applied under the cluster-manager's own field owner as that
	// release did: the current template plus an annotation of its own.
	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds))
	assert.Equal(t, appsv1.OnDeleteDaemonSetStrategyType, ds.Spec.UpdateStrategy.Type)
	previous := ds.DeepCopy()
	previous.ManagedFields, previous.ResourceVersion, previous.Status = nil, "", appsv1.DaemonSetStatus{}
	previous.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}
	if previous.Spec.Template.Annotations == nil {
		previous.Spec.Template.Annotations = map[string]string{}
	}
	previous.Spec.Template.Annotations["storageos.com/operator-version"] = "2.4.0"
	require.NoError(t, testEnv.Client.Patch(ctx, previous, client.Apply, client.FieldOwner(names.ClusterManager), client.ForceOwnership)) //nolint:staticcheck // applying a full typed object is the point
	oldGeneration := previous.Generation

	// The current cluster-manager converges the template (the annotation goes) ...
	eventuallyGet(t, ds, func() bool {
		_, old := ds.Spec.Template.Annotations["storageos.com/operator-version"]
		return !old && ds.Generation > oldGeneration
	})
	// ... and the DaemonSet controller, under OnDelete, replaces nothing: the pods keep the old template.
	require.Eventually(t, func() bool {
		if testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds) != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3,
			UpdatedNumberScheduled: 0, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	}, timeout, tick)

	cond := eventuallyCondition(t, c, cluster.ConditionNodesUpToDate, metav1.ConditionFalse, cluster.ReasonRestartPending)
	assert.Contains(t, cond.Message, "3 StorageOS node pods run an outdated template")
	for name, uid := range pods {
		pod := inNS(c, name, &corev1.Pod{})
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod), "node pod %s still exists", name)
		assert.Equal(t, uid, pod.UID, "node pod %s was not replaced", name)
		assert.True(t, pod.DeletionTimestamp.IsZero(), "node pod %s is not being deleted", name)
	}
	eventuallyCondition(t, c, cluster.ConditionNodeReady, metav1.ConditionTrue, "")
}
