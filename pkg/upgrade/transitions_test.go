package upgrade

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// The step transitions without an API server: an upgrade in a phase and the outcome of its step in, the
// status and the announcing event out.
func TestTransition(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	const timeout = 10 * time.Minute
	type want struct {
		phase         storageosv1.UpgradePhase
		progressing   metav1.ConditionStatus
		progReason    string
		progMessage   string
		failed        metav1.ConditionStatus // "" when the condition must not exist
		failedReason  string
		failedMessage string
		event         string // reason; "" for none
		eventMessage  string
	}
	cases := []struct {
		name      string
		phase     storageosv1.UpgradePhase
		startedAt time.Duration // before now
		paused    bool
		out       outcome
		want      want
	}{
		{"waiting in a step says for what", storageosv1.UpgradePhaseScalingDown, time.Minute, true, wait("%d pods of %d applications still exist", 3, 2),
			want{phase: storageosv1.UpgradePhaseScalingDown, progressing: metav1.ConditionTrue, progReason: "ScalingDown", progMessage: "3 pods of 2 applications"}},
		{"waiting to start is not progress", storageosv1.UpgradePhasePending, time.Hour, false, wait("cluster Running"),
			want{phase: storageosv1.UpgradePhasePending}},
		{"a step that waits too long fails, and applications are scaled back", storageosv1.UpgradePhaseScalingDown, 11 * time.Minute, true,
			wait("2 pods still exist"), want{phase: storageosv1.UpgradePhaseRestoring, progressing: metav1.ConditionTrue, progReason: ReasonRestoring,
				failed: metav1.ConditionTrue, failedReason: "ScalingDownFailed", failedMessage: "timed out after 10m0s without progress: 2 pods still exist",
				event: EventUpgradeFailed, eventMessage: "applications are being scaled back"}},
		{"restoring never times out", storageosv1.UpgradePhaseRestoring, time.Hour, true, wait("scaling back"),
			want{phase: storageosv1.UpgradePhaseRestoring, progressing: metav1.ConditionTrue, progReason: "Restoring", progMessage: "scaling back"}},
		{"a refusal before the cluster was touched ends the upgrade", "", 0, false,
			outcome{failure: "the cluster already runs storageos/node:v2.5.0", failReason: ReasonImageUnchanged},
			want{phase: storageosv1.UpgradePhaseFailed, progressing: metav1.ConditionFalse, progReason: ReasonFailed,
				failed: metav1.ConditionTrue, failedReason: ReasonImageUnchanged, failedMessage: "step Pending failed: the cluster already runs",
				event: EventUpgradeFailed, eventMessage: "delete this upgrade to let the cluster run as it is"}},
		{"pulling the image begins", storageosv1.UpgradePhasePending, 0, false, advance(storageosv1.UpgradePhasePullingImage),
			want{phase: storageosv1.UpgradePhasePullingImage, progressing: metav1.ConditionTrue, progReason: "PullingImage", progMessage: "started",
				failed: metav1.ConditionFalse, failedReason: ReasonNoFailure, event: EventPullImage, eventMessage: messagePullImage}},
		{"pausing records that the cluster is paused before pausing it", storageosv1.UpgradePhasePullingImage, 0, false, advance(storageosv1.UpgradePhasePausing),
			want{phase: storageosv1.UpgradePhasePausing, progressing: metav1.ConditionTrue, progReason: "Pausing",
				failed: metav1.ConditionFalse, failedReason: ReasonNoFailure, event: EventPauseClusterCtrl, eventMessage: messagePauseClusterCtl}},
		{"the node upgrade names the cluster", storageosv1.UpgradePhaseScalingDown, 0, true, advance(storageosv1.UpgradePhaseUpgrading),
			want{phase: storageosv1.UpgradePhaseUpgrading, progressing: metav1.ConditionTrue, progReason: "Upgrading",
				failed: metav1.ConditionFalse, failedReason: ReasonNoFailure, event: EventUpgradeInit, eventMessage: "StorageOS upgrade of cluster example started"}},
		{"completed", storageosv1.UpgradePhaseScalingUp, 0, true, advance(storageosv1.UpgradePhaseCompleted),
			want{phase: storageosv1.UpgradePhaseCompleted, progressing: metav1.ConditionFalse, progReason: ReasonCompleted, progMessage: "the cluster runs storageos/node:v2.6.0",
				event: EventUpgradeComplete, eventMessage: "StorageOS upgraded to storageos/node:v2.6.0. Delete upgrade object"}},
		{"failed once applications are back", storageosv1.UpgradePhaseRestoring, 0, true, advance(storageosv1.UpgradePhaseFailed),
			want{phase: storageosv1.UpgradePhaseFailed, progressing: metav1.ConditionFalse, progReason: ReasonFailed, progMessage: "stays paused in maintenance mode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Generation: 3},
				Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.6.0"}}
			u.Status.Phase, u.Status.ClusterPaused = tc.phase, tc.paused
			u.Status.Cluster = &storageosv1.ClusterReference{Namespace: "default", Name: "example"}
			if tc.phase != "" {
				u.Status.PhaseStartTime = &metav1.Time{Time: now.Add(-tc.startedAt)}
			}
			ev := transition(u, tc.phase, tc.out, now, timeout)

			w := tc.want
			assert.Equal(t, w.phase, u.Status.Phase)
			assert.Equal(t, int64(3), u.Status.ObservedGeneration)
			if w.phase != tc.phase {
				assert.Equal(t, now, *u.Status.PhaseStartTime, "a new phase starts now")
			}
			assert.Equal(t, w.phase == storageosv1.UpgradePhaseCompleted, u.Status.Completed)
			assert.Equal(t, tc.paused || w.phase == storageosv1.UpgradePhasePausing, u.Status.ClusterPaused)
			checkCondition(t, u, ConditionProgressing, w.progressing, w.progReason, w.progMessage)
			checkCondition(t, u, ConditionFailed, w.failed, w.failedReason, w.failedMessage)
			if w.event == "" {
				assert.Nil(t, ev)
				return
			}
			if assert.NotNil(t, ev) {
				assert.Equal(t, w.event, ev.reason)
				assert.Contains(t, ev.message, w.eventMessage)
				wantType := corev1.EventTypeNormal
				if w.event == EventUpgradeFailed {
					wantType = corev1.EventTypeWarning
				}
				assert.Equal(t, wantType, ev.eventType)
			}
		})
	}
}

func checkCondition(t *testing.T, u *storageosv1.StorageOSUpgrade, typ string, status metav1.ConditionStatus, reason, message string) {
	t.Helper()
	c := meta.FindStatusCondition(u.Status.Conditions, typ)
	if status == "" {
		assert.Nil(t, c, typ)
		return
	}
	if assert.NotNil(t, c, typ) {
		assert.Equal(t, status, c.Status, typ)
		assert.Equal(t, reason, c.Reason, typ)
		assert.Contains(t, c.Message, message, typ)
		assert.Equal(t, int64(3), c.ObservedGeneration, typ)
	}
}

// A step that acts on the cluster runs only on the one recorded in the upgrade's own namespace; waiting to
// start and scaling back are not refused.
func TestRecordedElsewhere(t *testing.T) {
	here := &storageosv1.ClusterReference{Namespace: "team", Name: "storageos"}
	there := &storageosv1.ClusterReference{Namespace: "storageos", Name: "storageos"}
	for _, tc := range []struct {
		phase   storageosv1.UpgradePhase
		cluster *storageosv1.ClusterReference
		refused bool
	}{
		{"", nil, false},
		{storageosv1.UpgradePhasePending, there, false},
		{storageosv1.UpgradePhasePausing, here, false},
		{storageosv1.UpgradePhasePausing, there, true},
		{storageosv1.UpgradePhaseScalingDown, nil, true},
		{storageosv1.UpgradePhaseUpgrading, there, true},
		{storageosv1.UpgradePhaseRestoring, there, false},
		{storageosv1.UpgradePhaseCompleted, there, false},
	} {
		u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Namespace: "team"}}
		u.Status.Phase, u.Status.Cluster = tc.phase, tc.cluster
		out, refused := recordedElsewhere(u, tc.phase)
		assert.Equal(t, tc.refused, refused, "phase %q, cluster %v", tc.phase, tc.cluster)
		if refused {
			assert.Equal(t, ReasonClusterNotInNamespace, out.failReason)
			assert.Contains(t, out.failure, "namespace team")
		}
	}
}

// A step times out after the step timeout without progress, not after the step timeout: a large cluster that
// keeps pulling the image, scaling applications down or upgrading nodes is not cut short, and one that is
// stuck, or whose count only dips and recovers, still fails.
func TestStepTimeoutCountsFromTheLastProgress(t *testing.T) {
	now := metav1.Now()
	const timeout = 10 * time.Minute
	ago := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }
	counting := func(apps, nodes, pulled *tally) outcome {
		out := wait("still at it")
		out.applications, out.nodes, out.pulled = apps, nodes, pulled
		return out
	}
	cases := []struct {
		name         string
		phase        storageosv1.UpgradePhase
		best         int32 // status.phaseProgress
		lastProgress *metav1.Time
		out          outcome
		fails        bool
		wantBest     int32
	}{
		{"more applications down than ever is progress", storageosv1.UpgradePhaseScalingDown, 300, nil,
			counting(counted(332, 1000), nil, nil), false, 332},
		{"a recent progress keeps a long step alive", storageosv1.UpgradePhaseScalingDown, 332, ago(2 * time.Minute),
			counting(counted(332, 1000), nil, nil), false, 332},
		{"a step timeout without progress fails", storageosv1.UpgradePhaseScalingDown, 332, ago(11 * time.Minute),
			counting(counted(332, 1000), nil, nil), true, 0},
		{"more nodes upgraded than ever is progress", storageosv1.UpgradePhaseUpgrading, 4000, ago(11 * time.Minute),
			counting(nil, counted(4100, 5000), nil), false, 4100},
		{"a count back where it was after a dip (a node pod's readiness flapping) is not", storageosv1.UpgradePhaseUpgrading, 4000,
			ago(11 * time.Minute), counting(nil, counted(4000, 5000), nil), true, 0},
		{"nor is one below it", storageosv1.UpgradePhaseUpgrading, 4000, ago(11 * time.Minute),
			counting(nil, counted(3999, 5000), nil), true, 0},
		{"more applications back up is progress while scaling up", storageosv1.UpgradePhaseScalingUp, 500, nil,
			counting(counted(400, 1000), nil, nil), false, 600},
		{"more nodes that pulled the image is progress", storageosv1.UpgradePhasePullingImage, 1000, ago(11 * time.Minute),
			counting(nil, nil, counted(2000, 5000)), false, 2000},
		{"a step that counts nothing times out from its start", storageosv1.UpgradePhasePausing, 0, nil,
			wait("still at it"), true, 0},
		{"exactly the step timeout without progress is not yet over it", storageosv1.UpgradePhaseScalingDown, 332, ago(timeout),
			counting(counted(332, 1000), nil, nil), false, 332},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &storageosv1.StorageOSUpgrade{Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.6.0"}}
			u.Status.Phase, u.Status.ClusterPaused = tc.phase, true
			u.Status.PhaseStartTime, u.Status.PhaseProgress, u.Status.PhaseProgressTime = ago(20*time.Minute), tc.best, tc.lastProgress
			transition(u, tc.phase, tc.out, now, timeout)
			failed := meta.FindStatusCondition(u.Status.Conditions, ConditionFailed)
			if tc.fails {
				require.NotNil(t, failed)
				assert.Contains(t, failed.Message, "timed out after 10m0s without progress: still at it")
				assert.Nil(t, u.Status.PhaseProgressTime, "Restoring starts without the failed step's progress")
				return
			}
			assert.Nil(t, failed, "the step goes on")
			assert.Equal(t, tc.phase, u.Status.Phase)
			assert.Equal(t, tc.wantBest, u.Status.PhaseProgress)
			if tc.wantBest > tc.best {
				assert.Equal(t, now, *u.Status.PhaseProgressTime)
			} else {
				assert.Equal(t, tc.lastProgress, u.Status.PhaseProgressTime)
			}
		})
	}
}

// The step clock runs from the step's last progress, but never from before the step began (a progress time left
// from another step must not shorten this one's timeout).
func TestStepClock(t *testing.T) {
	start, before, after := metav1.NewTime(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)),
		metav1.NewTime(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name            string
		started, latest *metav1.Time
		want            *metav1.Time
	}{
		{"no progress yet: the step's start", &start, nil, &start},
		{"progress since the start", &start, &after, &after},
		{"a progress time from before the step began", &start, &before, &start},
		{"a progress with no start recorded", nil, &after, &after},
		{"neither", nil, nil, nil},
	} {
		st := &storageosv1.StorageOSUpgradeStatus{PhaseStartTime: tc.started, PhaseProgressTime: tc.latest}
		assert.Equal(t, tc.want, stepClock(st), tc.name)
	}
}
