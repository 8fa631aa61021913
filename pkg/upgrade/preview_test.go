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

// barePod creates a pod that no controller owns, mounting a StorageOS claim of the world: the upgrade cannot
// stop it.
func barePod(t testing.TB, w *world, name, claim string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.appNS},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "debug", Image: "busybox"}}, Volumes: []corev1.Volume{pvcVolume(claim)}}}
	require.NoError(t, testEnv.Client.Create(context.Background(), pod))
	return pod
}

// progressing is the upgrade's Progressing condition, or an empty one.
func progressing(t testing.TB, u *storageosv1.StorageOSUpgrade) metav1.Condition {
	t.Helper()
	if c := meta.FindStatusCondition(get(t, u).Status.Conditions, upgrade.ConditionProgressing); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func applicationNames(p storageosv1.UpgradePlan) []string {
	var out []string
	for _, a := range p.Applications {
		out = append(out, string(a.Kind)+"/"+a.Name)
	}
	return out
}

// A preview shows the plan and does nothing else, following the cluster; turned off with a pod it cannot stop,
// the upgrade waits, saying which pod and how to accept the risk; once the pod is gone it starts, saying how the
// plan it starts from differs from the one shown.
func TestPreviewThenRefusalThenStart(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	startManager(t, managerOptions{})
	debug := barePod(t, w, "debug", "web-data")
	u := createUpgradeSpec(t, w.cluster.Namespace, storageosv1.StorageOSUpgradeSpec{NewImage: newImage, Preview: true})

	require.Eventually(t, func() bool {
		p := get(t, u).Status.Plan
		return p.Summary.Applications == 3 && p.Summary.UnstoppablePods == 1 && p.Summary.Nodes == int32(len(w.nodes)) &&
			progressing(t, u).Reason == upgrade.ReasonPreviewing
	}, timeout, tick, "the preview's plan: %+v", get(t, u).Status.Plan)
	got := get(t, u)
	assert.Equal(t, storageosv1.UpgradePhasePending, got.Status.Phase)
	assert.Equal(t, []string{"Deployment/scratch", "Deployment/web", "StatefulSet/db"}, applicationNames(got.Status.Plan))
	require.Len(t, got.Status.Plan.UnstoppablePods, 1)
	assert.Equal(t, storageosv1.UnstoppablePod{Namespace: w.appNS, Name: "debug", OwnerKind: "None",
		Reason: storageosv1.UnstoppableNoOwner, Claims: []string{"web-data"}}, got.Status.Plan.UnstoppablePods[0])
	assert.Equal(t, oldImage, got.Status.Plan.FromImage)
	assert.Equal(t, newImage, got.Status.Plan.ToImage)
	assert.Contains(t, progressing(t, u).Message, "preview: 3 applications to scale down, 1 pod it cannot stop, 0 blocking autoscalers, 3 nodes")

	// An application started while previewing appears in the plan.
	require.NoError(t, testEnv.Client.Create(ctx, deployment(w.appNS, "late", 1, pvcVolume("idle-data"))))
	require.Eventually(t, func() bool {
		return strings.Contains(strings.Join(applicationNames(get(t, u).Status.Plan), ","), "Deployment/late")
	}, timeout, tick, "the plan follows the cluster: %+v", get(t, u).Status.Plan)
	assertPending(t, w, u)

	// Started with a pod it cannot stop: it waits, naming the pod and the field that accepts the risk.
	require.NoError(t, testEnv.Client.Patch(ctx, &storageosv1.StorageOSUpgrade{ObjectMeta: u.ObjectMeta},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"preview":false}}`))))
	require.Eventually(t, func() bool {
		c := progressing(t, u)
		return c.Reason == upgrade.ReasonUnstoppablePods && strings.Contains(c.Message, upgrade.AcceptField) &&
			strings.Contains(c.Message, w.appNS+"/debug")
	}, timeout, tick, "the refusal: %+v", progressing(t, u))
	require.Eventually(t, func() bool {
		counts, _ := eventCounts(t, u)
		return counts[upgrade.EventUnstoppablePods] == 1
	}, timeout, tick)
	assertPending(t, w, u)

	// The pod gone, it starts, from a plan that differs from the one shown.
	require.NoError(t, testEnv.Client.Delete(ctx, debug))
	waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	require.Eventually(t, func() bool {
		counts, _ := eventCounts(t, u)
		return counts[upgrade.EventPlanChanged] == 1
	}, timeout, tick)
	_, notes := eventCounts(t, u)
	assert.Contains(t, notes[upgrade.EventPlanChanged], "unstoppable pod "+w.appNS+"/debug is gone")
	counts, _ := eventCounts(t, u)
	assert.Equal(t, 1, counts[upgrade.EventUnstoppablePods], "the wait is announced once")
	assert.Zero(t, counts[upgrade.EventPlanWarning], "an upgrade within a major version warns of nothing")
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// assertPending checks that a pending upgrade has paused, scaled and pulled nothing.
func assertPending(t *testing.T, w *world, u *storageosv1.StorageOSUpgrade) {
	t.Helper()
	got := get(t, u)
	assert.Equal(t, storageosv1.UpgradePhasePending, got.Status.Phase)
	assert.False(t, got.Status.ClusterPaused)
	assert.Empty(t, got.Status.Workloads)
	assertUntouched(t, w)
	assert.True(t, w.appsReady(allApps), "no application was scaled")
}

// A downgrade across a major version is a warning, not a refusal: in the plan, and as events once it starts.
// Accepting the pods it cannot stop lets it start with them.
func TestDowngradeWarnsAndAcceptedPodsDoNotBlock(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	barePod(t, w, "debug", "web-data")
	const older = "storageos/node:1.0.0"
	u := createUpgradeSpec(t, w.cluster.Namespace, storageosv1.StorageOSUpgradeSpec{NewImage: older, AcceptUnstoppablePods: true})

	got := waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	assert.Equal(t, int32(1), got.Status.Plan.Summary.UnstoppablePods)
	assert.Equal(t, upgrade.VersionWarnings(oldImage, older), got.Status.Plan.Warnings)
	require.Eventually(t, func() bool {
		counts, _ := eventCounts(t, u)
		return counts[upgrade.EventPlanWarning] == 1
	}, timeout, tick, "one event for the plan's warnings")
	var list corev1.EventList
	require.NoError(t, testEnv.Client.List(context.Background(), &list, client.InNamespace(u.Namespace)))
	for _, e := range list.Items {
		if e.InvolvedObject.Name == u.Name && e.Reason == upgrade.EventPlanWarning {
			assert.Equal(t, corev1.EventTypeWarning, e.Type)
			assert.Contains(t, e.Message, "is a downgrade")
			assert.Contains(t, e.Message, "changes the major version")
		}
	}
	counts, _ := eventCounts(t, u)
	assert.Zero(t, counts[upgrade.EventPlanChanged], "no plan was shown before it started")
	assert.Zero(t, counts[upgrade.EventUnstoppablePods], "accepted, the pods did not hold it back")
	deleteUpgrade(t, u)
	assertReleased(t, w)
}
