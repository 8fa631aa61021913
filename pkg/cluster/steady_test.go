//go:build !mutation

package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
)

// readyCluster creates a cluster with every operand on, brings its nodes up and waits until a reconcile
// changes nothing any more.
func readyCluster(t testing.TB) *storageosv1.StorageOSCluster {
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset", EnableProvisionCreds: true}
		s.Ingress.Enable = true
	})
	nodesUp(t, c, "node-s1", "node-s2")
	eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionTrue, "")
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	require.Eventually(t, func() bool {
		before := requests.Writes()
		_, err := reconciler.Reconcile(context.Background(), req)
		return err == nil && requests.Writes() == before
	}, timeout, tick, "the cluster never settled")
	return c
}

// A Ready cluster resynced 100 times sends no write and no read around the cache.
func TestSteadyStateSendsNothing(t *testing.T) {
	c := readyCluster(t)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	require.Positive(t, requests.Writes(), "the counter sees the manager's requests")
	requests.Reset()
	for range 100 {
		_, err := reconciler.Reconcile(context.Background(), req)
		require.NoError(t, err)
	}
	assert.Zero(t, requests.Writes(), "writes in steady state")
	assert.Zero(t, requests.Reads(), "reads that bypassed the cache in steady state")
}

// A new password in the referenced secret reaches the copy the node reads, without any edit of the cluster.
func TestRotatedCredentialsReachTheCopies(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, nil)
	copied := inNS(c, desired.InitSecretName, &corev1.Secret{})
	eventuallyGet(t, copied, func() bool { return string(copied.Data["username"]) == apiUsername })

	source := &corev1.Secret{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Namespace: secretNS, Name: "storageos-api"}, source))
	source.Data["apiUsername"] = []byte("rotated-user")
	require.NoError(t, testEnv.Client.Update(ctx, source))
	t.Cleanup(func() {
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(source), source))
		source.Data["apiUsername"] = []byte(apiUsername)
		require.NoError(t, testEnv.Client.Update(ctx, source))
	})
	eventuallyGet(t, copied, func() bool { return string(copied.Data["username"]) == "rotated-user" })
}
