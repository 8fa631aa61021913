//go:build !mutation

package upgrade_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// An upgrade acts only on the StorageOSCluster of its own namespace: whoever can create one anywhere else (a
// namespace editor) must not be able to pause, scale down and re-image the cluster through the upgrade-manager.

// An upgrade created in another namespace than the cluster's is refused for good, with a condition and a
// Warning event that name its own namespace and nothing of the cluster's, and touches nothing. Kept, it does
// not hold up an upgrade created in the cluster's namespace, and deleting it leaves that one's pause alone.
func TestUpgradeInAnotherNamespaceIsRefused(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	elsewhere := createUpgrade(t, testEnv.CreateNamespace(t), newImage)

	got, failed := waitFailed(t, elsewhere)
	assert.Equal(t, upgrade.ReasonClusterNotInNamespace, failed.Reason)
	assert.Contains(t, failed.Message, "no StorageOSCluster in namespace "+elsewhere.Namespace)
	assert.Contains(t, failed.Message, "create the StorageOSUpgrade in the StorageOSCluster's namespace")
	assertRevealsNothing(t, w, failed.Message)
	progressing := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionProgressing)
	require.NotNil(t, progressing)
	assert.Equal(t, metav1.ConditionFalse, progressing.Status)
	assert.Nil(t, got.Status.Cluster, "no cluster is recorded")
	assert.False(t, got.Status.ClusterPaused)
	assert.Empty(t, got.Status.PreviousImage)
	assert.Empty(t, got.Status.Workloads)

	warning := waitEvent(t, elsewhere, upgrade.EventUpgradeFailed)
	assert.Equal(t, corev1.EventTypeWarning, warning.Type)
	assert.Contains(t, warning.Message, "no StorageOSCluster in namespace "+elsewhere.Namespace)
	assertRevealsNothing(t, w, warning.Message)
	counts, _ := eventCounts(t, elsewhere)
	assert.Equal(t, map[string]int{upgrade.EventUpgradeFailed: 1}, counts, "no step was announced")
	assertUntouched(t, w)

	u := createUpgrade(t, w.cluster.Namespace, newImage)
	assertCompleted(t, w, u, true)
	assert.Equal(t, storageosv1.UpgradePhaseFailed, get(t, elsewhere).Status.Phase, "a refusal is final")
	deleteUpgrade(t, elsewhere)
	assert.True(t, cluster(t, w).Spec.Pause, "deleting the refused upgrade leaves the cluster's pause alone")
	assert.True(t, sim.Maintenance(), "and its maintenance mode")
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// With no StorageOSCluster anywhere, an upgrade waits for one in its own namespace, saying so; a cluster
// created in another namespace does not end the wait in its favour: the upgrade is refused.
func TestUpgradeWaitsForAClusterInItsOwnNamespace(t *testing.T) {
	ctx := context.Background()
	var clusters storageosv1.StorageOSClusterList
	require.NoError(t, testEnv.Client.List(ctx, &clusters))
	require.Empty(t, clusters.Items, "an earlier test left a StorageOSCluster")
	startManager(t, managerOptions{})
	u := createUpgrade(t, testEnv.CreateNamespace(t), newImage)
	require.Eventually(t, func() bool {
		c := meta.FindStatusCondition(get(t, u).Status.Conditions, upgrade.ConditionProgressing)
		return c != nil && c.Reason == upgrade.ReasonWaitingForCluster &&
			strings.Contains(c.Message, "no StorageOSCluster in namespace "+u.Namespace)
	}, timeout, tick)
	assert.Equal(t, storageosv1.UpgradePhasePending, get(t, u).Status.Phase)

	w := newWorld(t)
	_, failed := waitFailed(t, u)
	assert.Equal(t, upgrade.ReasonClusterNotInNamespace, failed.Reason)
	assertRevealsNothing(t, w, failed.Message)
	assertUntouched(t, w)
}

// status.cluster is the upgrade-manager's own record, of the cluster in the upgrade's namespace. One naming a
// cluster elsewhere (written by whoever may write the status subresource) is not acted on: the upgrade fails
// in the step the status names, and the cluster is untouched.
func TestAClusterRecordedInAnotherNamespaceIsNotActedOn(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	u := createUpgrade(t, testEnv.CreateNamespace(t), newImage)
	now := metav1.Now()
	u.Status = storageosv1.StorageOSUpgradeStatus{Phase: storageosv1.UpgradePhasePausing, PhaseStartTime: &now, PreviousImage: oldImage,
		Cluster: &storageosv1.ClusterReference{Namespace: w.cluster.Namespace, Name: w.cluster.Name}}
	require.NoError(t, testEnv.Client.Status().Update(ctx, u))
	startManager(t, managerOptions{})

	_, failed := waitFailed(t, u)
	assert.Equal(t, upgrade.ReasonClusterNotInNamespace, failed.Reason)
	assert.Contains(t, failed.Message, "step Pausing failed")
	assertUntouched(t, w)
	deleteUpgrade(t, u)
	assertUntouched(t, w)
}

// assertUntouched checks that no upgrade has acted on the world's cluster: not paused, out of maintenance
// mode, no image pull Job anywhere, the node DaemonSet and its pods on the old image, every application at its
// replica count and unannotated.
func assertUntouched(t *testing.T, w *world) {
	t.Helper()
	c := cluster(t, w)
	assert.False(t, c.Spec.Pause, "the cluster is not paused")
	assert.Empty(t, c.Spec.Images.NodeContainer, "the cluster's node image is not set")
	assert.False(t, sim.Maintenance(), "maintenance mode is off")
	var jobs storageosv1.JobList
	require.NoError(t, testEnv.Client.List(context.Background(), &jobs))
	assert.Empty(t, jobs.Items, "no image pull Job")
	assert.Equal(t, oldImage, nodeDaemonSet(t, w).Spec.Template.Spec.Containers[0].Image)
	for _, p := range w.nodePods() {
		assert.Equal(t, oldImage, p.Spec.Containers[0].Image, "node pod %s", p.Name)
	}
	apps := []storageosv1.ScaledWorkload{{Kind: storageosv1.WorkloadKindDeployment, Name: "cache"}}
	for _, wl := range append(apps, wantWorkloads...) {
		replicas, annotations := workload(t, w, wl.Kind, wl.Name)
		assert.Equal(t, allApps[wl.Name], replicas, "%s is not scaled", wl.Name)
		assert.NotContains(t, annotations, upgrade.ReplicasAnnotation, wl.Name)
	}
	assert.True(t, w.appsReady(allApps), "every application runs")
}

// assertRevealsNothing checks that a message to the upgrade's creator names no namespace of the world: not the
// cluster's, not the one its nodes run in, not its applications'.
func assertRevealsNothing(t *testing.T, w *world, message string) {
	t.Helper()
	for _, s := range []string{w.cluster.Namespace, w.clusterNS, w.appNS} {
		assert.NotContains(t, message, s)
	}
}

// waitEvent waits for an event about the upgrade with reason, and returns it.
func waitEvent(t *testing.T, u *storageosv1.StorageOSUpgrade, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	require.Eventually(t, func() bool {
		var list corev1.EventList
		if testEnv.Client.List(context.Background(), &list, client.InNamespace(u.Namespace)) != nil {
			return false
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Name == u.Name && e.Reason == reason {
				found = e
				return true
			}
		}
		return false
	}, timeout, tick, "no %s event", reason)
	return found
}

// Deleting an upgrade whose status names a cluster in another namespace undoes nothing there: the cluster its
// administrator paused stays paused, and an application the status lists (with a replica count of the writer's
// choosing) is not scaled.
func TestDeletingAnUpgradeWithAStatusFromElsewhereUndoesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	c := cluster(t, w)
	c.Spec.Pause = true
	require.NoError(t, testEnv.Client.Update(ctx, c))
	u := createUpgrade(t, testEnv.CreateNamespace(t), newImage)
	now := metav1.Now()
	u.Status = storageosv1.StorageOSUpgradeStatus{Phase: storageosv1.UpgradePhaseScalingDown, PhaseStartTime: &now,
		PreviousImage: oldImage, ClusterPaused: true,
		Cluster:   &storageosv1.ClusterReference{Namespace: w.cluster.Namespace, Name: w.cluster.Name},
		Workloads: []storageosv1.ScaledWorkload{{Kind: storageosv1.WorkloadKindDeployment, Namespace: w.appNS, Name: "cache", Replicas: 7}}}
	require.NoError(t, testEnv.Client.Status().Update(ctx, u))
	// Deleted before any upgrade-manager saw it, so the first reconcile is the cleanup.
	u.Finalizers = append(u.Finalizers, upgrade.Finalizer)
	require.NoError(t, testEnv.Client.Update(ctx, u))
	require.NoError(t, testEnv.Client.Delete(ctx, u))
	startManager(t, managerOptions{})

	deleteUpgrade(t, u)
	assert.True(t, cluster(t, w).Spec.Pause, "the cluster stays paused")
	replicas, _ := workload(t, w, storageosv1.WorkloadKindDeployment, "cache")
	assert.Equal(t, allApps["cache"], replicas, "the listed application is not scaled")
}
