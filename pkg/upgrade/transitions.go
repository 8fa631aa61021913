package upgrade

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// The step transitions are pure: a step's outcome in, the upgrade's status and the event that announces it out.
// transitions_test.go tests them as a table.

// outcome is what a step decided: move to the next phase, wait (saying for what), or fail.
type outcome struct {
	next    storageosv1.UpgradePhase
	waiting string
	failure string
	// failReason overrides the Failed condition's reason (default: the step's phase + "Failed").
	failReason string
	// applications (scaled down of those to scale down) and nodes (upgraded of those to replace) are what the
	// step counted on its look, for status.progress; nil when it did not count them.
	applications, nodes *tally
	// pulled counts the nodes that pulled the new image (the pull Job's), for the step timeout only.
	pulled *tally
	// events are emitted once the status the step decided is written, after the phase's announcement.
	events []event
}

func advance(p storageosv1.UpgradePhase) outcome { return outcome{next: p} }
func wait(format string, args ...any) outcome    { return outcome{waiting: fmt.Sprintf(format, args...)} }
func fail(format string, args ...any) outcome    { return outcome{failure: fmt.Sprintf(format, args...)} }

// event is an event to emit once the status that it announces is written.
type event struct {
	eventType, reason, action, message string
}

// transition records the outcome of the step that ran in phase: a phase transition (written before the next
// step acts), a failure, or what the step waits for, and the progress the step counted. A step that waits
// longer than stepTimeout without progress fails, except Restoring, which must not give up on scaling
// applications back.
func transition(u *storageosv1.StorageOSUpgrade, phase storageosv1.UpgradePhase, out outcome, now metav1.Time, stepTimeout time.Duration) *event {
	if out.failure == "" && out.next == "" {
		if done, counts := work(phase, out); counts && done > u.Status.PhaseProgress {
			u.Status.PhaseProgress, u.Status.PhaseProgressTime = done, &now
		}
		if since := stepClock(&u.Status); timesOut(phase) && since != nil && now.Sub(since.Time) > stepTimeout {
			timedOut := fail("timed out after %s without progress: %s", stepTimeout, out.waiting)
			timedOut.applications, timedOut.nodes = out.applications, out.nodes
			out = timedOut
		}
	}
	u.Status.ObservedGeneration = u.Generation
	if u.Status.PhaseStartTime == nil {
		u.Status.PhaseStartTime = &now // Pending began with the first look
	}
	defer recordProgress(u, out)
	switch {
	case out.failure != "":
		return failed(u, phase, out, now)
	case out.next != "":
		u.Status.Phase, u.Status.PhaseStartTime = out.next, &now
		u.Status.PhaseProgress, u.Status.PhaseProgressTime = 0, nil
		enter(u, out.next)
		return announcement(u, out.next)
	case active(phase):
		setCondition(u, ConditionProgressing, metav1.ConditionTrue, string(phase), out.waiting)
	}
	return nil
}

// failed moves a failed upgrade to Restoring when it paused the cluster (applications are scaled back first),
// else to Failed.
func failed(u *storageosv1.StorageOSUpgrade, phase storageosv1.UpgradePhase, out outcome, now metav1.Time) *event {
	if phase == "" {
		phase = storageosv1.UpgradePhasePending
	}
	reason := out.failReason
	if reason == "" {
		reason = string(phase) + "Failed"
	}
	message := fmt.Sprintf("step %s failed: %s", phase, out.failure)
	setCondition(u, ConditionFailed, metav1.ConditionTrue, reason, message)
	next := storageosv1.UpgradePhaseFailed
	help := "delete this upgrade to let the cluster run as it is"
	if u.Status.ClusterPaused {
		next = storageosv1.UpgradePhaseRestoring
		setCondition(u, ConditionProgressing, metav1.ConditionTrue, ReasonRestoring, "scaling applications back after the failure")
		help = "applications are being scaled back; the cluster stays paused in maintenance mode: fix the cause, " +
			"then delete this upgrade to disable maintenance mode, or delete it and create a new one to retry"
	} else {
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonFailed, message)
	}
	u.Status.Phase, u.Status.PhaseStartTime = next, &now
	u.Status.PhaseProgress, u.Status.PhaseProgressTime = 0, nil
	return &event{corev1.EventTypeWarning, EventUpgradeFailed, "Fail", message + "; " + help}
}

// enter sets what a phase's status says from its first moment: this is the write that comes before the act.
func enter(u *storageosv1.StorageOSUpgrade, p storageosv1.UpgradePhase) {
	switch p {
	case storageosv1.UpgradePhasePullingImage:
		// The upgrade's work begins; Pending may have waited long for the cluster or another upgrade.
		start := *u.Status.PhaseStartTime
		u.Status.Progress.StartTime = &start
	case storageosv1.UpgradePhasePausing:
		// From here on, deleting the upgrade must undo the pause and maintenance mode.
		u.Status.ClusterPaused = true
	case storageosv1.UpgradePhaseCompleted:
		u.Status.Completed = true
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonCompleted, "the cluster runs "+string(u.Spec.NewImage))
		return
	case storageosv1.UpgradePhaseFailed:
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonFailed,
			"applications are scaled back; the cluster stays paused in maintenance mode until this upgrade is deleted")
		return
	}
	setCondition(u, ConditionProgressing, metav1.ConditionTrue, string(p), "started")
	if meta.FindStatusCondition(u.Status.Conditions, ConditionFailed) == nil {
		setCondition(u, ConditionFailed, metav1.ConditionFalse, ReasonNoFailure, "no step has failed")
	}
}

// announcement is the event of a phase that has just begun, with the original operator's reasons and messages.
func announcement(u *storageosv1.StorageOSUpgrade, p storageosv1.UpgradePhase) *event {
	switch p {
	case storageosv1.UpgradePhasePullingImage:
		return &event{corev1.EventTypeNormal, EventPullImage, "PullImage", messagePullImage}
	case storageosv1.UpgradePhasePausing:
		return &event{corev1.EventTypeNormal, EventPauseClusterCtrl, "Pause", messagePauseClusterCtl}
	case storageosv1.UpgradePhaseUpgrading:
		return &event{corev1.EventTypeNormal, EventUpgradeInit, "Upgrade", fmt.Sprintf(messageUpgradeInit, u.Status.Cluster.Name)}
	case storageosv1.UpgradePhaseCompleted:
		return &event{corev1.EventTypeNormal, EventUpgradeComplete, "Complete", fmt.Sprintf(messageUpgradeComplete, u.Spec.NewImage)}
	}
	return nil
}

// work is how much of its work a step's look counted done, as one figure that rises as the step gets on: nodes
// that pulled the image, applications down, nodes upgraded, applications back up. A look that counts more than
// the phase ever did (status.phaseProgress) is progress; a count that dips and recovers (a node pod's readiness
// flapping, an application restored by someone and scaled down again) is not.
func work(phase storageosv1.UpgradePhase, out outcome) (int32, bool) {
	var t *tally
	switch phase {
	case storageosv1.UpgradePhasePullingImage:
		t = out.pulled
	case storageosv1.UpgradePhaseScalingDown:
		t = out.applications
	case storageosv1.UpgradePhaseUpgrading:
		t = out.nodes
	case storageosv1.UpgradePhaseScalingUp:
		if a := out.applications; a != nil {
			return a.total - a.done, true // done counts the applications still down
		}
	}
	if t == nil {
		return 0, false
	}
	return t.done, true
}

// stepClock is when the current phase's step timeout runs from: its last progress, or else its start.
func stepClock(s *storageosv1.StorageOSUpgradeStatus) *metav1.Time {
	if p := s.PhaseProgressTime; p != nil && (s.PhaseStartTime == nil || p.After(s.PhaseStartTime.Time)) {
		return p
	}
	return s.PhaseStartTime
}
