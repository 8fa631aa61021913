//go:build !mutation

package upgrade_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// A pod the upgrade cannot stop that appears after it started (a CronJob's run, a pod created by hand while the
// applications scale down) holds it at the end of ScalingDown, the last look before StorageOS goes offline:
// named in its condition, no node pod replaced, until the pod is gone.
func TestAPodThatAppearsMidUpgradeHoldsItBeforeStorageOSGoesOffline(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	w.holdAppPods.Store(true)
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, u, storageosv1.UpgradePhaseScalingDown)
	late := barePod(t, w, "late", "web-data")
	w.holdAppPods.Store(false)

	require.Eventually(t, func() bool {
		c := progressing(t, u)
		return strings.Contains(c.Message, w.appNS+"/late (no owner)") && strings.Contains(c.Message, upgrade.AcceptField)
	}, timeout, tick, "the wait names the pod: %+v", progressing(t, u))
	got := get(t, u)
	assert.Equal(t, storageosv1.UpgradePhaseScalingDown, got.Status.Phase)
	assert.Equal(t, int32(1), got.Status.Plan.Summary.UnstoppablePods, "the plan shows it")
	assert.Equal(t, int32(len(wantWorkloads)), got.Status.Plan.Summary.Applications, "the plan's applications are those scaled down")
	assert.True(t, w.appsReady(map[string]int32{"web": 0, "scratch": 0, "db": 0}), "the applications are down")
	for _, p := range w.nodePods() {
		assert.Equal(t, oldImage, p.Spec.Containers[0].Image, "node pod %s is not replaced", p.Name)
	}

	require.NoError(t, testEnv.Client.Delete(context.Background(), late))
	got = waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	assert.Zero(t, got.Status.Plan.Summary.UnstoppablePods)
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// A preview only looks: an upgrade created after it runs without waiting for it, and the preview says that
// upgrade goes first.
func TestAPreviewDoesNotHoldBackAnotherUpgrade(t *testing.T) {
	w := newWorld(t)
	startManager(t, managerOptions{})
	preview := createUpgradeSpec(t, w.cluster.Namespace, storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.3.0", Preview: true})
	require.Eventually(t, func() bool { return progressing(t, preview).Reason == upgrade.ReasonPreviewing }, timeout, tick)

	w.holdJob.Store(true)
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	waitPhase(t, u, storageosv1.UpgradePhasePullingImage)
	require.Eventually(t, func() bool {
		return strings.Contains(progressing(t, preview).Message, "upgrade "+u.Namespace+"/"+u.Name)
	}, timeout, tick, "the preview names the upgrade that goes first: %+v", progressing(t, preview))
	w.holdJob.Store(false)
	waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	counts, _ := eventCounts(t, u)
	assert.Zero(t, counts[upgrade.EventBlocked], "the upgrade never waited for the preview")
	deleteUpgrade(t, u)

	require.Eventually(t, func() bool {
		c := progressing(t, preview)
		return c.Reason == upgrade.ReasonPreviewing && !strings.Contains(c.Message, "goes first")
	}, timeout, tick, "%+v", progressing(t, preview))
	assert.Equal(t, storageosv1.UpgradePhasePending, get(t, preview).Status.Phase)
	deleteUpgrade(t, preview)
	assertReleased(t, w)
}
