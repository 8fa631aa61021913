//go:build !mutation

package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

func TestDeploysEveryObjectAndReportsStatus(t *testing.T) {
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.CSI.Enable = true })

	for _, obj := range []client.Object{
		named(string(c.Spec.Namespace), &corev1.Namespace{}),
		inNS(c, desired.DaemonSetSA, &corev1.ServiceAccount{}),
		inNS(c, desired.InitSecretName, &corev1.Secret{}),
		inNS(c, names.NodeConfigMap, &corev1.ConfigMap{}),
		inNS(c, names.DaemonSet, &appsv1.DaemonSet{}),
		inNS(c, desired.CSIStatefulSetName, &appsv1.StatefulSet{}),
		inNS(c, "storageos", &corev1.Service{}),
		inNS(c, names.Scheduler, &appsv1.Deployment{}),
		inNS(c, desired.SchedulerConfigMapName, &corev1.ConfigMap{}),
		named("storageos:csi-provisioner", &rbacv1.ClusterRoleBinding{}),
		named("storageos:pod-fencer", &rbacv1.ClusterRoleBinding{}),
		named(names.CSIDriver, &storagev1.CSIDriver{}),
		named("fast", &storagev1.StorageClass{}),
	} {
		eventuallyGet(t, obj, nil, "%T %s", obj, obj.GetName())
		assert.Equal(t, names.ClusterManager, obj.GetLabels()[names.LabelManagedBy], "%T %s", obj, obj.GetName())
	}

	// The secret copy carries the API credentials under the keys the node reads.
	secret := inNS(c, desired.InitSecretName, &corev1.Secret{})
	eventuallyGet(t, secret, nil)
	assert.Equal(t, apiUsername, string(secret.Data["username"]))
	assert.Equal(t, apiPassword, string(secret.Data["password"]))

	// Before any node pod is ready the cluster is Creating, with every condition written for this generation.
	eventuallyCondition(t, c, cluster.ConditionNodeReady, metav1.ConditionFalse, cluster.ReasonNoNodes)
	fresh := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), fresh))
	assert.Equal(t, storageosv1.ClusterPhaseCreating, fresh.Status.Phase)
	assert.Equal(t, "0/0", fresh.Status.Ready)
	assert.Contains(t, fresh.Finalizers, cluster.Finalizer)
	for _, typ := range []string{cluster.ConditionAvailable, cluster.ConditionProgressing, cluster.ConditionDegraded,
		cluster.ConditionNodeReady, cluster.ConditionCSIReady, cluster.ConditionSchedulerReady, cluster.ConditionAPIReady} {
		cond := condition(t, c, typ)
		if assert.NotNil(t, cond, typ) {
			assert.Equal(t, fresh.Generation, cond.ObservedGeneration, typ)
		}
	}

	// Node pods come up: the cluster is Running with its members, and node health comes from the StorageOS API.
	sim.SetNodes(storageos.Node{ID: "a", Name: "node-a", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "b", Name: "node-b", Health: storageos.NodeHealthOffline})
	nodesUp(t, c, "node-a", "node-b")
	eventuallyGet(t, fresh, func() bool {
		return fresh.Status.Phase == storageosv1.ClusterPhaseRunning && len(fresh.Status.NodeHealthStatus) == 2
	})
	assert.Equal(t, "2/2", fresh.Status.Ready)
	assert.Equal(t, []string{"node-a", "node-b"}, fresh.Status.Nodes)
	assert.Equal(t, []string{"node-a", "node-b"}, fresh.Status.Members.Ready)
	assert.Equal(t, storageosv1.NodeHealthOffline, fresh.Status.NodeHealthStatus["node-b"].Health)
	assert.Equal(t, fresh.Generation, fresh.Status.ObservedGeneration)
	eventuallyEvent(t, c, "ChangedStatus: 2/2 StorageOS nodes are functional. Cluster healthy")
	assertNoSecretValues(t, c)

	// The original's per-component health: a component that is not alive is named, with its node.
	assert.Equal(t, storageos.ComponentAlive, fresh.Status.NodeHealthStatus["node-a"].Rdb)
	nodeB := eventuallyCondition(t, c, cluster.ConditionNodesHealthy, metav1.ConditionFalse, cluster.ReasonNodeUnhealthy)
	assert.Contains(t, nodeB.Message, "node-b: offline")
	sim.SetNodes(storageos.Node{ID: "a", Name: "node-a", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "b", Name: "node-b", Health: storageos.NodeHealthOnline})
	sim.SetComponent("node-a", "kvWrite", "dead")
	eventuallyGet(t, fresh, func() bool { return fresh.Status.NodeHealthStatus["node-a"].KVWrite == "dead" })
	cond := eventuallyCondition(t, c, cluster.ConditionNodesHealthy, metav1.ConditionFalse, cluster.ReasonNodeUnhealthy)
	assert.Equal(t, "node-a: kvWrite dead", cond.Message)
	assert.Equal(t, metav1.ConditionTrue, condition(t, c, cluster.ConditionDegraded).Status)
	sim.SetComponent("node-a", "kvWrite", storageos.ComponentAlive)
	eventuallyCondition(t, c, cluster.ConditionNodesHealthy, metav1.ConditionTrue, cluster.ReasonReady)
}
