package upgrade

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func TestBackoff(t *testing.T) {
	const base, maxDelay = 2 * time.Second, 30 * time.Second
	for _, tc := range []struct {
		waited, want time.Duration
	}{
		{0, base},
		{time.Second, base},
		{3 * time.Second, base},
		{4 * time.Second, 4 * time.Second}, // looked at 2s and 4s: next at 8s
		{7 * time.Second, 4 * time.Second},
		{8 * time.Second, 8 * time.Second},
		{16 * time.Second, 16 * time.Second},
		{31 * time.Second, 16 * time.Second},
		{32 * time.Second, maxDelay},
		{time.Hour, maxDelay},
	} {
		assert.Equal(t, tc.want, backoff(tc.waited, base, maxDelay), "waited %s", tc.waited)
	}
	assert.Equal(t, base, backoff(time.Hour, base, time.Second), "never less than base")
	assert.Equal(t, maxDelay, backoff(time.Hour, 0, maxDelay), "no base: the longest wait")
	assert.Equal(t, maxDelay, backoff(time.Duration(math.MaxInt64), base, maxDelay), "a wait too long to double past")
}

// The schedule of looks comes from the status alone: the step's start, its timeout, and whether the look changed
// what the step says it waits for.
func TestNextLook(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	const base, maxDelay, stepTimeout = 2 * time.Second, 30 * time.Second, 10 * time.Minute
	for _, tc := range []struct {
		name       string
		phase      storageosv1.UpgradePhase
		started    time.Duration // before now; 0: not started (Pending)
		created    time.Duration // before now
		progressed bool
		want       time.Duration
	}{
		{"a step that has just started looks again soon", storageosv1.UpgradePhaseScalingDown, time.Second, time.Hour, false, base},
		{"then ever less often", storageosv1.UpgradePhaseScalingDown, 10 * time.Second, time.Hour, false, 8 * time.Second},
		{"up to the longest wait", storageosv1.UpgradePhaseUpgrading, 5 * time.Minute, time.Hour, false, maxDelay},
		{"a look that saw progress looks again soon", storageosv1.UpgradePhaseScalingDown, 5 * time.Minute, time.Hour, true, base},
		{"the timeout is not overslept", storageosv1.UpgradePhaseUpgrading, stepTimeout - 5*time.Second, time.Hour, false, 5 * time.Second},
		{"restoring has no timeout", storageosv1.UpgradePhaseRestoring, stepTimeout - 5*time.Second, time.Hour, false, maxDelay},
		{"an upgrade waiting to start counts from its creation", storageosv1.UpgradePhasePending, 0, 5 * time.Second, false, 4 * time.Second},
		{"and has no timeout", storageosv1.UpgradePhasePending, 0, stepTimeout - time.Second, false, maxDelay},
		{"a deadline closer than base: looks at base", storageosv1.UpgradePhaseUpgrading, stepTimeout - time.Second, time.Hour, false, base},
		{"a deadline that is now: looks at base", storageosv1.UpgradePhaseUpgrading, stepTimeout, time.Hour, false, base},
		{"a deadline as far as the backoff: the backoff", storageosv1.UpgradePhaseUpgrading, stepTimeout - maxDelay, time.Hour, false, maxDelay},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(now.Add(-tc.created))}}
			u.Status.Phase = tc.phase
			if tc.started > 0 {
				u.Status.PhaseStartTime = &metav1.Time{Time: now.Add(-tc.started)}
			}
			assert.Equal(t, tc.want, nextLook(u, tc.progressed, now, base, maxDelay, stepTimeout))
		})
	}
	t.Run("the deadline runs from the step's last progress", func(t *testing.T) {
		u := &storageosv1.StorageOSUpgrade{}
		u.Status.Phase = storageosv1.UpgradePhaseUpgrading
		u.Status.PhaseStartTime = &metav1.Time{Time: now.Add(-time.Hour)}
		u.Status.PhaseProgressTime = &metav1.Time{Time: now.Add(-(stepTimeout - 5*time.Second))}
		assert.Equal(t, 5*time.Second, nextLook(u, false, now, base, maxDelay, stepTimeout))
	})
}
