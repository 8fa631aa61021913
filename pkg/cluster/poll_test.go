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
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason}
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{
				Spec:   storageosv1.StorageOSClusterSpec{Pause: tt.pause},
				Status: storageosv1.StorageOSClusterStatus{Phase: tt.phase, Conditions: tt.conditions},
			}
			assert.Equal(t, tt.want, nextPoll(c, settled, unsettled))
		})
	}
}
