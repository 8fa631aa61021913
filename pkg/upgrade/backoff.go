package upgrade

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// When a waiting step looks again. What the controller watches (workloads, the pull Job, other upgrades) brings
// the upgrade back as soon as it changes; the rest (pods, which are cached but not watched, the node DaemonSet,
// the cluster) is polled, less and less often while nothing changes. The schedule is computed from the status alone, so a
// restarted upgrade-manager, or the replica that takes over, keeps to it without remembering anything.

// backoff is how long a step that has waited for waited looks again after: base at first, then the wait so
// far rounded down to base doubled, at most maxDelay. Looks come at base, 2·base, 4·base… after the wait began.
func backoff(waited, base, maxDelay time.Duration) time.Duration {
	if base <= 0 {
		return maxDelay
	}
	// Doubling stops at half of waited, so 2·d never overflows (waited may be huge: a step timed from a zero
	// or long-past time); the cap is applied once, after.
	d := base
	for d <= waited/2 {
		d *= 2
	}
	return max(min(d, maxDelay), base)
}

// nextLook is how long after now the upgrade, whose step has just looked and waits, looks again. The wait is
// timed from the step's start (an upgrade that has not started, from its creation). A look that saw something
// change (progressed: the step's message differs, e.g. fewer pods left or more nodes ready) looks again after
// base, as more is likely to follow; and a step that times out looks again no later than its deadline (the
// step timeout after its last progress), or base from now if that is later, so the timeout is noticed on
// time.
func nextLook(u *storageosv1.StorageOSUpgrade, progressed bool, now time.Time, base, maxDelay, stepTimeout time.Duration) time.Duration {
	start := u.CreationTimestamp.Time
	if u.Status.PhaseStartTime != nil {
		start = u.Status.PhaseStartTime.Time
	}
	d := backoff(now.Sub(start), base, maxDelay)
	if progressed {
		d = base
	}
	if since := stepClock(&u.Status); timesOut(u.Status.Phase) && since != nil {
		// No later than the deadline, nor sooner than base: a deadline that is (about) now is noticed at the
		// next look, base from now.
		d = min(d, max(since.Add(stepTimeout).Sub(now), base))
	}
	return d
}

// waitingFor is what the upgrade's Progressing condition says it waits for: the message of its last look.
func waitingFor(u *storageosv1.StorageOSUpgrade) string {
	if c := meta.FindStatusCondition(u.Status.Conditions, ConditionProgressing); c != nil {
		return c.Message
	}
	return ""
}
