//go:build !mutation

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The goal: a change is in the status within 10 s. Settled, the cluster is polled every 30 s, so meeting it
// proves the change was followed by the reaction to it (a node pod's readiness, or the fast poll of an
// unsettled cluster), not by the next slow poll.
const within = 10 * time.Second

// settledCluster is a Running cluster whose two StorageOS nodes are online: nothing left to follow closely.
func settledCluster(t testing.TB) *storageosv1.StorageOSCluster {
	t.Helper()
	sim.SetNodes(storageos.Node{ID: "f1", Name: "node-f1", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "f2", Name: "node-f2", Health: storageos.NodeHealthOnline})
	// Without the scheduler and the CSI helper, whose pods envtest never makes ready.
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) {
		s.DisableScheduler = true
		s.CSI.Enable = false
	})
	nodesUp(t, c, "node-f1", "node-f2")
	eventuallyCondition(t, c, cluster.ConditionNodesHealthy, metav1.ConditionTrue, cluster.ReasonReady)
	eventuallyCondition(t, c, cluster.ConditionProgressing, metav1.ConditionFalse, cluster.ReasonReady)
	return c
}

// A settled cluster costs the StorageOS API one call per poll (the node list; the settings are read only when
// they may differ, no new login) and Kubernetes no write, and is polled again in 30 s.
func TestASettledClusterAsksTheAPIOncePerPoll(t *testing.T) {
	c := settledCluster(t)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	// The first reconciles of this test may still check the settings; from then on, one call each.
	_, err := reconciler.Reconcile(context.Background(), req)
	require.NoError(t, err)
	nodes, settings, logins := sim.Requests("GET /v2/nodes"), sim.Requests("GET /v2/cluster"), sim.Requests("POST /v2/auth/login")
	writes := requests.Writes()
	const polls = 10
	for range polls {
		res, err := reconciler.Reconcile(context.Background(), req)
		require.NoError(t, err)
		assert.Equal(t, cluster.DefaultSettledPoll, res.RequeueAfter, "a settled cluster is polled twice a minute")
	}
	// The running controller's own poll may land among the test's: at most one more node list.
	listed := sim.Requests("GET /v2/nodes") - nodes
	assert.True(t, listed == polls || listed == polls+1, "node lists for %d polls: %d", polls, listed)
	assert.Equal(t, settings, sim.Requests("GET /v2/cluster"), "settings read again while settled")
	assert.Equal(t, logins, sim.Requests("POST /v2/auth/login"), "logins while settled")
	assert.Equal(t, writes, requests.Writes(), "Kubernetes writes while settled")
}

// A StorageOS node going offline (its pod's readiness probe fails) and coming back (the API alone says so) are
// in the cluster's status and conditions within seconds.
func TestStatusFollowsTheStorageOSAPIWithinSeconds(t *testing.T) {
	ctx := context.Background()
	c := settledCluster(t)
	fresh := &storageosv1.StorageOSCluster{}

	// Offline: StorageOS says so, and the node's pod fails its readiness probe. The kube-controller-manager,
	// which would update the DaemonSet's status, does not run here: only the pod tells.
	sim.SetNodes(storageos.Node{ID: "f1", Name: "node-f1", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "f2", Name: "node-f2", Health: storageos.NodeHealthOffline})
	pod := inNS(c, "storageos-node-f2", &corev1.Pod{})
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod))
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	require.NoError(t, testEnv.Client.Status().Update(ctx, pod))
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), fresh) == nil &&
			fresh.Status.NodeHealthStatus["node-f2"].Health == storageosv1.NodeHealthOffline
	}, within, tick, "the offline node in nodeHealthStatus")
	assert.Equal(t, metav1.ConditionFalse, condition(t, c, cluster.ConditionNodesHealthy).Status)
	assert.Equal(t, metav1.ConditionTrue, condition(t, c, cluster.ConditionDegraded).Status)

	// Online again, and only the StorageOS API says so: the unsettled cluster's fast poll sees it.
	sim.SetNodes(storageos.Node{ID: "f1", Name: "node-f1", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "f2", Name: "node-f2", Health: storageos.NodeHealthOnline})
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), fresh) == nil &&
			fresh.Status.NodeHealthStatus["node-f2"].Health == storageosv1.NodeHealthOnline
	}, within, tick, "the node back online in nodeHealthStatus")
	assert.Equal(t, metav1.ConditionTrue, condition(t, c, cluster.ConditionNodesHealthy).Status)
}
