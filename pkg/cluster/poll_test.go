package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func TestNextPoll(t *testing.T) {
	const settled, unsettled = 30 * time.Second, 3 * time.Second
	now := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	// Every condition changed 10 s ago unless a case says otherwise.
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-10 * time.Second))}
	}
	since := func(c metav1.Condition, ago time.Duration) metav1.Condition {
		c.LastTransitionTime = metav1.NewTime(now.Add(-ago))
		return c
	}
	lasting := func(ago time.Duration, conds []metav1.Condition) []metav1.Condition {
		for i := range conds {
			conds[i] = since(conds[i], ago)
		}
		return conds
	}
	healthy := func() []metav1.Condition {
		return []metav1.Condition{
			cond(ConditionNodeReady, metav1.ConditionTrue, ReasonReady),
			cond(ConditionAPIReady, metav1.ConditionTrue, ReasonReady),
			cond(ConditionNodesHealthy, metav1.ConditionTrue, ReasonReady),
			cond(ConditionProgressing, metav1.ConditionFalse, ReasonReady),
			cond(ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected),
			// Neither keeps a cluster unsettled: a restart pending is the administrator's to decide.
			cond(ConditionNodesUpToDate, metav1.ConditionFalse, ReasonRestartPending),
			cond(ConditionFieldsIgnored, metav1.ConditionTrue, ReasonNoEffect),
		}
	}
	with := func(c metav1.Condition) []metav1.Condition {
		out := healthy()
		for i := range out {
			if out[i].Type == c.Type {
				out[i] = c
			}
		}
		return out
	}
	without := func(typ string) []metav1.Condition {
		var out []metav1.Condition
		for _, c := range healthy() {
			if c.Type != typ {
				out = append(out, c)
			}
		}
		return out
	}
	tests := []struct {
		name       string
		phase      storageosv1.ClusterPhase
		pause      bool
		conditions []metav1.Condition
		want       time.Duration
	}{
		{"running and all well", storageosv1.ClusterPhaseRunning, false, healthy(), settled},
		{"creating", storageosv1.ClusterPhaseCreating, false, healthy(), unsettled},
		{"pending after a failure", storageosv1.ClusterPhasePending, false, healthy(), unsettled},
		{"paused for an upgrade (maintenance)", storageosv1.ClusterPhaseRunning, true, healthy(), unsettled},
		{"a node offline", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionNodesHealthy, metav1.ConditionFalse, ReasonNodeUnhealthy)), unsettled},
		{"a node pod not ready", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionNodeReady, metav1.ConditionFalse, ReasonNotReady)), unsettled},
		{"API unreachable", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionAPIReady, metav1.ConditionFalse, ReasonAPIUnreachable)), unsettled},
		{"API not asked yet", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionAPIReady, metav1.ConditionUnknown, ReasonAPIWaiting)), unsettled},
		{"node health never reported", storageosv1.ClusterPhaseRunning, false, without(ConditionNodesHealthy), unsettled},
		{"degraded", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionDegraded, metav1.ConditionTrue, ReasonReconcileFailed)), unsettled},
		{"still progressing", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionProgressing, metav1.ConditionTrue, ReasonApplying)), unsettled},
		// Asking again with the same credentials cannot help and may lock the account; a new password is a
		// Secret change, an event of its own.
		{"credentials refused", storageosv1.ClusterPhaseRunning, false, with(cond(ConditionAPIReady, metav1.ConditionFalse, ReasonCredentialsInvalid)), settled},
		// An unsettled state that lasts is polled less often, never slower than 9 s (a recovery within 10 s).
		{"a node offline for 59 s", storageosv1.ClusterPhaseRunning, false,
			lasting(59*time.Second, with(cond(ConditionNodesHealthy, metav1.ConditionFalse, ReasonNodeUnhealthy))), unsettled},
		{"a node offline for 90 s", storageosv1.ClusterPhaseRunning, false,
			lasting(90*time.Second, with(cond(ConditionNodesHealthy, metav1.ConditionFalse, ReasonNodeUnhealthy))), 2 * unsettled},
		{"a node offline for a day", storageosv1.ClusterPhaseRunning, false,
			lasting(24*time.Hour, with(cond(ConditionNodesHealthy, metav1.ConditionFalse, ReasonNodeUnhealthy))), 3 * unsettled},
		{"paused for a day", storageosv1.ClusterPhaseRunning, true, lasting(24*time.Hour, healthy()), 3 * unsettled},
		{"a day-old problem with a change 5 s ago", storageosv1.ClusterPhaseRunning, false,
			append(lasting(24*time.Hour, without(ConditionNodeReady)), since(cond(ConditionNodeReady, metav1.ConditionFalse, ReasonNotReady), 5*time.Second)), unsettled},
		{"no conditions at all", storageosv1.ClusterPhaseCreating, false, nil, 3 * unsettled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{
				Spec:   storageosv1.StorageOSClusterSpec{Pause: tt.pause},
				Status: storageosv1.StorageOSClusterStatus{Phase: tt.phase, Conditions: tt.conditions},
			}
			assert.Equal(t, tt.want, nextPoll(c, settled, unsettled, now))
		})
	}
}
