//go:build !mutation

package upgrade_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

var upgradeCount atomic.Int32

// The StorageOS applications of a world, as the upgrade must record them.
var wantWorkloads = []storageosv1.ScaledWorkload{
	{Kind: storageosv1.WorkloadKindDeployment, Name: "scratch", Replicas: 1},
	{Kind: storageosv1.WorkloadKindDeployment, Name: "web", Replicas: 3},
	{Kind: storageosv1.WorkloadKindStatefulSet, Name: "db", Replicas: 2},
}

// allApps are every application's replica count before (and after) an upgrade.
var allApps = map[string]int32{"web": 3, "cache": 2, "scratch": 1, "db": 2, "idle": 0}

func apierrorsIsNotFound(err error) bool { return apierrors.IsNotFound(err) }

// createUpgrade creates an upgrade to image in namespace: the cluster's, for an upgrade that may run.
func createUpgrade(t testing.TB, namespace, image string) *storageosv1.StorageOSUpgrade {
	t.Helper()
	return createUpgradeSpec(t, namespace, storageosv1.StorageOSUpgradeSpec{NewImage: storageosv1.ImageReference(image)})
}

// createUpgradeSpec creates an upgrade with spec in namespace, deleted when the test ends.
func createUpgradeSpec(t testing.TB, namespace string, spec storageosv1.StorageOSUpgradeSpec) *storageosv1.StorageOSUpgrade {
	t.Helper()
	u := &storageosv1.StorageOSUpgrade{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("upgrade-%d", upgradeCount.Add(1)), Namespace: namespace},
		Spec:       spec,
	}
	require.NoError(t, testEnv.Client.Create(context.Background(), u))
	// A failed test must not leave an upgrade that blocks the next test's: delete it, and drop the finalizer
	// if no upgrade-manager runs any more to do so.
	t.Cleanup(func() {
		ctx := context.Background()
		if testEnv.Client.Delete(ctx, u) != nil {
			return
		}
		gone := func() bool {
			return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), &storageosv1.StorageOSUpgrade{}))
		}
		deadline := time.Now().Add(10 * time.Second)
		for !gone() && time.Now().Before(deadline) {
			time.Sleep(tick)
		}
		left := &storageosv1.StorageOSUpgrade{}
		if testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), left) == nil {
			left.Finalizers = nil
			_ = testEnv.Client.Update(ctx, left)
		}
	})
	return u
}

func get(t testing.TB, u *storageosv1.StorageOSUpgrade) *storageosv1.StorageOSUpgrade {
	t.Helper()
	out := &storageosv1.StorageOSUpgrade{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(u), out))
	return out
}

// order of the phases of a successful upgrade.
var order = map[storageosv1.UpgradePhase]int{"": 0, storageosv1.UpgradePhasePending: 0, storageosv1.UpgradePhasePullingImage: 1,
	storageosv1.UpgradePhasePausing: 2, storageosv1.UpgradePhaseScalingDown: 3, storageosv1.UpgradePhaseUpgrading: 4,
	storageosv1.UpgradePhaseScalingUp: 5, storageosv1.UpgradePhaseCompleted: 6}

// waitPhase waits until the upgrade has reached phase or gone past it.
func waitPhase(t testing.TB, u *storageosv1.StorageOSUpgrade, phase storageosv1.UpgradePhase) *storageosv1.StorageOSUpgrade {
	t.Helper()
	got := &storageosv1.StorageOSUpgrade{}
	defer func() {
		if t.Failed() {
			t.Logf("upgrade status: %+v", got.Status)
		}
	}()
	require.Eventually(t, func() bool {
		got = get(t, u)
		o, ok := order[got.Status.Phase]
		return got.Status.Phase == phase || (ok && o >= order[phase] && order[phase] > 0)
	}, timeout, tick, "upgrade never reached %s", phase)
	return got
}

// eventCounts counts the events about an upgrade by reason, and returns each reason's last note.
func eventCounts(t testing.TB, u *storageosv1.StorageOSUpgrade) (map[string]int, map[string]string) {
	t.Helper()
	var list corev1.EventList
	require.NoError(t, testEnv.Client.List(context.Background(), &list, client.InNamespace(u.Namespace)))
	counts, notes := map[string]int{}, map[string]string{}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == u.Name {
			counts[e.Reason] += max(int(e.Count), 1)
			notes[e.Reason] = e.Message
		}
	}
	return counts, notes
}

func cluster(t testing.TB, w *world) *storageosv1.StorageOSCluster {
	t.Helper()
	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(w.cluster), c))
	return c
}

func nodeDaemonSet(t testing.TB, w *world) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Namespace: w.clusterNS, Name: names.DaemonSet}, ds))
	return ds
}

// workload reads an application's Deployment or StatefulSet.
func workload(t testing.TB, w *world, kind storageosv1.WorkloadKind, name string) (replicas int32, annotations map[string]string) {
	t.Helper()
	key := client.ObjectKey{Namespace: w.appNS, Name: name}
	if kind == storageosv1.WorkloadKindStatefulSet {
		s := &appsv1.StatefulSet{}
		require.NoError(t, testEnv.Client.Get(context.Background(), key, s))
		return *s.Spec.Replicas, s.Annotations
	}
	d := &appsv1.Deployment{}
	require.NoError(t, testEnv.Client.Get(context.Background(), key, d))
	return *d.Spec.Replicas, d.Annotations
}

func recorded(w *world) []storageosv1.ScaledWorkload {
	out := make([]storageosv1.ScaledWorkload, len(wantWorkloads))
	for i, wl := range wantWorkloads {
		wl.Namespace = w.appNS
		out[i] = wl
	}
	return out
}

// assertStepsDone checks what every step before the upgrade's phase has done; these hold whatever a later
// step is doing, so they can be checked on a running upgrade.
func assertStepsDone(t *testing.T, w *world, u *storageosv1.StorageOSUpgrade) {
	t.Helper()
	phase := order[u.Status.Phase]
	if phase >= order[storageosv1.UpgradePhasePullingImage] {
		assert.Equal(t, &storageosv1.ClusterReference{Namespace: w.cluster.Namespace, Name: w.cluster.Name}, u.Status.Cluster)
		assert.Equal(t, oldImage, u.Status.PreviousImage)
		// Progress is status, not memory: whichever process ran the steps before, it reads the same.
		p := u.Status.Progress
		assert.NotNil(t, p.StartTime, "the upgrade's start is recorded")
		assert.Equal(t, int32(len(wantWorkloads)), p.Applications, "applications to scale down")
		assert.Equal(t, int32(len(w.nodes)), p.Nodes, "node pods to replace")
		assert.Equal(t, fmt.Sprintf("%d/%d", p.ApplicationsScaledDown, p.Applications), p.ApplicationsSummary)
		assert.Equal(t, fmt.Sprintf("%d/%d", p.NodesUpgraded, p.Nodes), p.NodesSummary)
	}
	switch u.Status.Phase {
	case storageosv1.UpgradePhaseUpgrading:
		assert.Equal(t, int32(len(wantWorkloads)), u.Status.Progress.ApplicationsScaledDown, "every application is down")
	case storageosv1.UpgradePhaseScalingUp:
		assert.Equal(t, int32(len(w.nodes)), u.Status.Progress.NodesUpgraded, "every node is upgraded")
	case storageosv1.UpgradePhaseCompleted:
		assert.Equal(t, storageosv1.UpgradeProgress{StartTime: u.Status.Progress.StartTime, Applications: 3, Nodes: 3, NodesUpgraded: 3,
			ApplicationsSummary: "0/3", NodesSummary: "3/3", Message: "nodes upgraded 3/3, applications scaled up 3/3"}, u.Status.Progress)
	}
	if phase >= order[storageosv1.UpgradePhasePausing] {
		assert.True(t, u.Status.ClusterPaused, "the pause is recorded before it is done")
	}
	if phase >= order[storageosv1.UpgradePhaseScalingDown] {
		assert.True(t, sim.Maintenance(), "maintenance mode is on from ScalingDown (phase %s)", u.Status.Phase)
		assert.True(t, cluster(t, w).Spec.Pause, "the cluster is paused from ScalingDown")
		err := testEnv.Client.Get(context.Background(), client.ObjectKey{Namespace: w.clusterNS, Name: upgrade.PullJobName}, &storageosv1.Job{})
		assert.True(t, apierrors.IsNotFound(err), "the image pull Job is deleted once the cluster is paused: %v", err)
	}
	if phase >= order[storageosv1.UpgradePhaseUpgrading] && phase < order[storageosv1.UpgradePhaseScalingUp] {
		assert.Equal(t, recorded(w), u.Status.Workloads)
		for _, wl := range wantWorkloads {
			replicas, annotations := workload(t, w, wl.Kind, wl.Name)
			assert.Zero(t, replicas, "%s scaled down", wl.Name)
			assert.Equal(t, strconv.Itoa(int(wl.Replicas)), annotations[upgrade.ReplicasAnnotation], "%s annotated with its count", wl.Name)
		}
		assert.True(t, w.appsReady(map[string]int32{"web": 0, "scratch": 0, "db": 0, "cache": 2}), "StorageOS applications' pods are gone, others run")
	}
	if phase >= order[storageosv1.UpgradePhaseScalingUp] {
		assert.Equal(t, storageosv1.ImageReference(newImage), cluster(t, w).Spec.Images.NodeContainer)
		pods := w.nodePods()
		assert.Len(t, pods, len(w.nodes))
		for _, p := range pods {
			assert.Equal(t, newImage, p.Spec.Containers[0].Image, "node pod %s", p.Name)
			assert.True(t, isReady(&p))
		}
	}
	if u.Status.Phase == storageosv1.UpgradePhaseCompleted {
		assert.True(t, u.Status.Completed)
		assert.True(t, w.appsReady(allApps), "every application runs its replicas again")
		for _, wl := range wantWorkloads {
			replicas, annotations := workload(t, w, wl.Kind, wl.Name)
			assert.Equal(t, wl.Replicas, replicas)
			assert.NotContains(t, annotations, upgrade.ReplicasAnnotation)
		}
	}
}

// assertCompleted checks the end of a successful upgrade, with each seed event emitted once. Events are
// best effort in Kubernetes: one emitted just before the process is stopped can be lost with it, so with
// stops (exact false) each is emitted at most once; the status is the record.
func assertCompleted(t *testing.T, w *world, u *storageosv1.StorageOSUpgrade, exact bool) {
	t.Helper()
	u = waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	assertStepsDone(t, w, u)
	ds := nodeDaemonSet(t, w)
	assert.Equal(t, newImage, ds.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.10.0", ds.Spec.Template.Spec.Containers[1].Image,
		"only the StorageOS container changes")
	replicas, annotations := workload(t, w, storageosv1.WorkloadKindDeployment, "cache")
	assert.Equal(t, int32(2), replicas, "an application on another class is never touched")
	assert.Empty(t, annotations)
	assert.True(t, sim.Maintenance(), "maintenance mode stays on until the upgrade is deleted")
	assert.True(t, meta.IsStatusConditionFalse(u.Status.Conditions, upgrade.ConditionFailed))

	if exact {
		// Events are written asynchronously; with no stop, the last one arrives.
		require.Eventually(t, func() bool {
			counts, _ := eventCounts(t, u)
			return counts[upgrade.EventUpgradeComplete] > 0
		}, timeout, tick)
	}
	counts, notes := eventCounts(t, u)
	for reason, note := range map[string]string{
		upgrade.EventPullImage:        "Pulling the new container image",
		upgrade.EventPauseClusterCtrl: "Pausing the cluster controller and enabling cluster maintenance mode",
		upgrade.EventUpgradeInit:      "StorageOS upgrade of cluster storageos started",
		upgrade.EventUpgradeComplete:  "StorageOS upgraded to " + newImage + ". Delete upgrade object to disable cluster maintenance mode",
	} {
		if exact || counts[reason] > 0 {
			assert.Equal(t, 1, counts[reason], "event %s, once (all: %v)", reason, counts)
			assert.Equal(t, note, notes[reason])
		}
		assert.LessOrEqual(t, counts[reason], 1, "event %s is never repeated", reason)
	}
}

// waitFailed waits until the upgrade has failed and returns it with its Failed condition.
func waitFailed(t *testing.T, u *storageosv1.StorageOSUpgrade) (*storageosv1.StorageOSUpgrade, *metav1.Condition) {
	t.Helper()
	var got *storageosv1.StorageOSUpgrade
	require.Eventually(t, func() bool {
		got = get(t, u)
		return got.Status.Phase == storageosv1.UpgradePhaseFailed
	}, timeout, tick)
	failed := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionFailed)
	require.NotNil(t, failed)
	return got, failed
}

// deleteUpgrade deletes an upgrade and waits until its finalizer has run.
func deleteUpgrade(t *testing.T, u *storageosv1.StorageOSUpgrade) {
	t.Helper()
	require.NoError(t, client.IgnoreNotFound(testEnv.Client.Delete(context.Background(), u)))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(u), &storageosv1.StorageOSUpgrade{}))
	}, timeout, tick, "the upgrade was never finalized")
}

// assertReleased checks that the cluster is out of maintenance mode and unpaused, applications running.
func assertReleased(t *testing.T, w *world) {
	t.Helper()
	assert.False(t, sim.Maintenance(), "maintenance mode is off")
	assert.False(t, cluster(t, w).Spec.Pause, "the cluster is unpaused")
	require.Eventually(t, func() bool { return w.appsReady(allApps) }, timeout, tick, "applications run their replicas")
}

// The upgrade-manager is stopped after each step and started again; the upgrade resumes from its status and
// ends with every application at its recorded count, each event emitted once. Deleting it then takes the
// cluster out of maintenance mode and unpauses it.
func TestUpgradeResumesAfterTheManagerStopsAtEveryStep(t *testing.T) {
	w := newWorld(t)
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	for _, phase := range []storageosv1.UpgradePhase{storageosv1.UpgradePhasePullingImage, storageosv1.UpgradePhasePausing,
		storageosv1.UpgradePhaseScalingDown, storageosv1.UpgradePhaseUpgrading, storageosv1.UpgradePhaseScalingUp,
		storageosv1.UpgradePhaseCompleted} {
		m := startManager(t, managerOptions{})
		waitPhase(t, u, phase)
		m.stop(t)
		t.Logf("stopped at %s (waited for %s)", get(t, u).Status.Phase, phase)
		assertStepsDone(t, w, get(t, u))
	}
	assertCompleted(t, w, u, false)

	startManager(t, managerOptions{})
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// Two leader-elected replicas: stopping the leader mid-upgrade hands the upgrade to the other, which finishes
// it without repeating or skipping a step.
func TestLeaderHandoverMidUpgrade(t *testing.T) {
	w := newWorld(t)
	// The namespace of the shipped leader election Role.
	const leases = "storageos-operator"
	managers := []*runningManager{startManager(t, managerOptions{leaseNamespace: leases}), startManager(t, managerOptions{leaseNamespace: leases})}
	w.holdAppPods.Store(true) // the upgrade waits in ScalingDown until released
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, u, storageosv1.UpgradePhaseScalingDown)

	leader := -1
	for i, m := range managers {
		select {
		case <-m.mgr.Elected():
			leader = i
		default:
		}
	}
	require.NotEqual(t, -1, leader, "one replica leads")
	managers[leader].stop(t)
	w.holdAppPods.Store(false)

	assertCompleted(t, w, u, true)
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// A step that times out fails the upgrade naming the step; applications are scaled back; the cluster stays
// paused in maintenance mode until the upgrade is deleted.
func TestFailedStepRestoresApplicationsAndKeepsMaintenance(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{stepTimeout: 8 * time.Second})
	w.holdNodePods.Store(true) // deleted node pods do not come back: the node roll never finishes
	u := createUpgrade(t, w.cluster.Namespace, newImage)

	got, failed := waitFailed(t, u)
	assert.Equal(t, metav1.ConditionTrue, failed.Status)
	assert.Equal(t, "UpgradingFailed", failed.Reason)
	assert.Contains(t, failed.Message, "step Upgrading failed: timed out")
	assert.Contains(t, failed.Message, "node pods run "+newImage)
	assert.False(t, got.Status.Completed)
	assert.Equal(t, recorded(w), got.Status.Workloads)
	require.Eventually(t, func() bool { return w.appsReady(allApps) }, timeout, tick, "applications are scaled back")
	assert.True(t, sim.Maintenance(), "the cluster stays in maintenance mode")
	assert.True(t, cluster(t, w).Spec.Pause, "the cluster stays paused")
	counts, notes := eventCounts(t, u)
	assert.Equal(t, 1, counts[upgrade.EventUpgradeFailed])
	assert.Contains(t, notes[upgrade.EventUpgradeFailed], "delete this upgrade to disable maintenance mode")

	w.holdNodePods.Store(false)
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// Rolling back is an upgrade to the previous image through the same flow.
func TestRollbackToThePreviousImage(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	previous := waitPhase(t, u, storageosv1.UpgradePhaseCompleted).Status.PreviousImage
	deleteUpgrade(t, u)
	assertReleased(t, w)

	back := createUpgrade(t, w.cluster.Namespace, previous)
	got := waitPhase(t, back, storageosv1.UpgradePhaseCompleted)
	assert.Equal(t, newImage, got.Status.PreviousImage)
	assert.Equal(t, recorded(w), got.Status.Workloads)
	for _, p := range w.nodePods() {
		assert.Equal(t, oldImage, p.Spec.Containers[0].Image)
	}
	assert.Equal(t, storageosv1.ImageReference(oldImage), cluster(t, w).Spec.Images.NodeContainer)
	require.Eventually(t, func() bool { return w.appsReady(allApps) }, timeout, tick)
	deleteUpgrade(t, back)
	assertReleased(t, w)
}

// One upgrade at a time: a second one waits with a condition and an event naming the first, and runs once
// the first is deleted.
func TestSecondUpgradeWaitsForTheFirst(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	w.holdJob.Store(true)
	first := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, first, storageosv1.UpgradePhasePullingImage)
	second := createUpgrade(t, w.cluster.Namespace, "storageos/node:v2.3.0")

	require.Eventually(t, func() bool {
		c := meta.FindStatusCondition(get(t, second).Status.Conditions, upgrade.ConditionProgressing)
		return c != nil && c.Reason == upgrade.ReasonBlocked && strings.Contains(c.Message, first.Namespace+"/"+first.Name)
	}, timeout, tick)
	require.Eventually(t, func() bool {
		counts, _ := eventCounts(t, second)
		return counts[upgrade.EventBlocked] == 1
	}, timeout, tick)
	assert.Equal(t, storageosv1.UpgradePhasePending, get(t, second).Status.Phase)

	deleteUpgrade(t, first)
	assert.False(t, cluster(t, w).Spec.Pause, "an upgrade deleted before pausing leaves the pause alone")
	w.holdJob.Store(false)
	got := waitPhase(t, second, storageosv1.UpgradePhaseCompleted)
	assert.Equal(t, oldImage, got.Status.PreviousImage)
	deleteUpgrade(t, second)
	assertReleased(t, w)
}

// An upgrade to the image the cluster already runs is refused, and touches nothing.
func TestUpgradeToTheRunningImageIsRefused(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, oldImage)
	got, failed := waitFailed(t, u)
	assert.Equal(t, upgrade.ReasonImageUnchanged, failed.Reason)
	assert.Contains(t, failed.Message, "already runs "+oldImage)
	assert.False(t, got.Status.ClusterPaused)
	assert.False(t, cluster(t, w).Spec.Pause)
	assert.False(t, sim.Maintenance())
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// Deleting an upgrade in the middle restores the applications, then leaves maintenance mode and unpauses.
func TestDeletingAnInterruptedUpgradeRestoresEverything(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	w.holdNodePods.Store(true)
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	assertStepsDone(t, w, waitPhase(t, u, storageosv1.UpgradePhaseUpgrading))
	deleteUpgrade(t, u)
	w.holdNodePods.Store(false)
	assertReleased(t, w)
	for _, wl := range wantWorkloads {
		replicas, annotations := workload(t, w, wl.Kind, wl.Name)
		assert.Equal(t, wl.Replicas, replicas)
		assert.NotContains(t, annotations, upgrade.ReplicasAnnotation)
	}
}

// A StatefulSet that deletes its PVCs when scaled down would lose its data: the upgrade refuses to start and
// touches nothing.
func TestStatefulSetThatDeletesItsClaimsBlocksTheUpgrade(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	db := &appsv1.StatefulSet{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Namespace: w.appNS, Name: "db"}, db))
	before := db.DeepCopy()
	db.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
	// A patch, not an update: the test's simulated StatefulSet controller writes the object's status meanwhile.
	require.NoError(t, testEnv.Client.Patch(ctx, db, client.MergeFrom(before)))
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, newImage)

	got, failed := waitFailed(t, u)
	assert.Equal(t, upgrade.ReasonClaimsWouldBeDeleted, failed.Reason)
	assert.Contains(t, failed.Message, w.appNS+"/db")
	assert.False(t, got.Status.ClusterPaused)
	assert.Empty(t, got.Status.Workloads)
	assert.False(t, sim.Maintenance())
	assert.True(t, w.appsReady(allApps), "no application was touched")
	deleteUpgrade(t, u)
}

// A cluster paused before the upgrade stays paused when the upgrade is deleted.
func TestAClusterPausedBeforehandStaysPaused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	c := cluster(t, w)
	c.Spec.Pause = true
	require.NoError(t, testEnv.Client.Update(ctx, c))
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	got := waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	assert.True(t, got.Status.ClusterWasPaused)
	deleteUpgrade(t, u)
	assert.True(t, cluster(t, w).Spec.Pause, "the user's pause is kept")
	assert.False(t, sim.Maintenance())
}

// Once an application is scaled back, later changes to its replicas (an autoscaler, the user) are its
// owner's: the upgrade waits for what the workload asks for and never scales it again.
func TestReplicasChangedAfterTheScaleUpAreKept(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, u, storageosv1.UpgradePhaseUpgrading)
	w.holdAppPods.Store(true) // scaled back, but not ready yet
	waitPhase(t, u, storageosv1.UpgradePhaseScalingUp)
	web := &appsv1.Deployment{}
	require.Eventually(t, func() bool {
		if testEnv.Client.Get(ctx, client.ObjectKey{Namespace: w.appNS, Name: "web"}, web) != nil {
			return false
		}
		_, annotated := web.Annotations[upgrade.ReplicasAnnotation]
		return !annotated && *web.Spec.Replicas == 3
	}, timeout, tick, "web scaled back")
	web.Spec.Replicas = ptrTo[int32](5)
	require.NoError(t, testEnv.Client.Update(ctx, web))
	w.holdAppPods.Store(false)

	waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	replicas, _ := workload(t, w, storageosv1.WorkloadKindDeployment, "web")
	assert.Equal(t, int32(5), replicas)
	deleteUpgrade(t, u)
}

// With the StorageOS API unreachable, deleting an upgrade unpauses the cluster and waits, saying why; the
// annotation storageos.com/skip-maintenance-disable lets it go.
func TestDeletionWithTheAPIDownUnpausesAndCanBeForced(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	startManager(t, managerOptions{})
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	sim.SetOutage(true)
	t.Cleanup(func() { sim.SetOutage(false) })

	require.NoError(t, testEnv.Client.Delete(ctx, u))
	require.Eventually(t, func() bool {
		c := meta.FindStatusCondition(get(t, u).Status.Conditions, upgrade.ConditionProgressing)
		return c != nil && c.Reason == upgrade.ReasonFinalizing && strings.Contains(c.Message, upgrade.SkipMaintenanceAnnotation)
	}, timeout, tick, "the upgrade says why it is not gone and how to let it go")
	assert.False(t, cluster(t, w).Spec.Pause, "the cluster-manager is not kept stopped by the API outage")

	got := get(t, u)
	got.Annotations = map[string]string{upgrade.SkipMaintenanceAnnotation: "true"}
	require.NoError(t, testEnv.Client.Update(ctx, got))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), &storageosv1.StorageOSUpgrade{}))
	}, timeout, tick)
	sim.SetOutage(false)
	assert.True(t, sim.Maintenance(), "maintenance mode was left on, as the annotation asked")
}

func ptrTo[T any](v T) *T { return &v }
