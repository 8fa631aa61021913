package demo_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
)

// The progress of an upgrade is printed one line per change of its step or figure, never per look.
func TestUpgradeProgressPrintsALinePerChange(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: start.Add(d)} }
	upgrade := func(phase storageosv1.UpgradePhase, stepStart time.Duration, message string) *storageosv1.StorageOSUpgrade {
		u := &storageosv1.StorageOSUpgrade{}
		u.Status.Phase, u.Status.PhaseStartTime = phase, at(stepStart)
		u.Status.Progress.Message = message
		if phase != storageosv1.UpgradePhasePending {
			u.Status.Progress.StartTime = at(0)
		}
		return u
	}
	var out strings.Builder
	p := demo.NewUpgradeProgress(&out)
	for _, look := range []struct {
		u   *storageosv1.StorageOSUpgrade
		now time.Duration
	}{
		{&storageosv1.StorageOSUpgrade{}, 0}, // not looked at yet: nothing to say
		{upgrade(storageosv1.UpgradePhasePending, 0, ""), time.Second},
		{upgrade(storageosv1.UpgradePhaseScalingDown, 10*time.Second, "applications scaled down 0/200"), 11 * time.Second},
		{upgrade(storageosv1.UpgradePhaseScalingDown, 10*time.Second, "applications scaled down 0/200"), 12 * time.Second},
		{upgrade(storageosv1.UpgradePhaseScalingDown, 10*time.Second, "applications scaled down 120/200"), 22 * time.Second},
		{upgrade(storageosv1.UpgradePhaseScalingDown, 10*time.Second, "applications scaled down 120/200"), 23 * time.Second},
		{upgrade(storageosv1.UpgradePhaseUpgrading, 30*time.Second, "nodes upgraded 0/100"), 30 * time.Second},
		{upgrade(storageosv1.UpgradePhaseUpgrading, 30*time.Second, "nodes upgraded 37/100"), 94*time.Second + 400*time.Millisecond},
	} {
		p.Print(look.u, start.Add(look.now))
	}
	assert.Equal(t, `upgrade: Pending (step 1s)
upgrade: ScalingDown applications scaled down 0/200 (step 1s, upgrade 11s)
upgrade: ScalingDown applications scaled down 120/200 (step 12s, upgrade 22s)
upgrade: Upgrading nodes upgraded 0/100 (step 0s, upgrade 30s)
upgrade: Upgrading nodes upgraded 37/100 (step 1m4s, upgrade 1m34s)
`, out.String())
}
