package nfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Events follow transitions of the status, so a reconcile that changes nothing sends nothing, however often
// it runs.
func TestTransitions(t *testing.T) {
	server := func(target string, conds ...metav1.Condition) *storageosv1.NFSServer {
		return &storageosv1.NFSServer{Status: storageosv1.NFSServerStatus{RemoteTarget: target, Conditions: conds}}
	}
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	reconciled := cond(ConditionReconciled, metav1.ConditionTrue, ReasonAsExpected, "")
	ready := cond(ConditionReady, metav1.ConditionTrue, ReasonReady, "serving /shared at 10.0.0.5:2049")
	notReady := cond(ConditionReady, metav1.ConditionFalse, ReasonPodNotReady, "pod shared-0 on node-1 is not ready")
	pending := cond(ConditionReady, metav1.ConditionFalse, ReasonClaimPending, "claim shared is Pending")
	failed := cond(ConditionReconciled, metav1.ConditionFalse, ReasonApplyFailed, "claim refused")
	failedOther := cond(ConditionReconciled, metav1.ConditionFalse, ReasonApplyFailed, "Service in the way")
	deleting := cond(ConditionReconciled, metav1.ConditionFalse, ReasonDeleting, "deleting the NFS server")

	cases := []struct {
		name          string
		before, after *storageosv1.NFSServer
		want          []string // reason: note
	}{
		{"first reconcile, not ready yet: nothing", server(""), server("", reconciled, pending), nil},
		{"becomes ready", server("10.0.0.5:2049", reconciled, pending), server("10.0.0.5:2049", reconciled, ready),
			[]string{"ChangedStatus: NFS server is now functional: 10.0.0.5:2049"}},
		{"stays ready: nothing", server("10.0.0.5:2049", reconciled, ready), server("10.0.0.5:2049", reconciled, ready), nil},
		{"ready at a new address", server("10.0.0.5:2049", reconciled, ready), server("10.0.0.9:2049", reconciled, ready),
			[]string{"ChangedStatus: NFS server is now functional: 10.0.0.9:2049"}},
		{"stops being ready", server("10.0.0.5:2049", reconciled, ready), server("10.0.0.5:2049", reconciled, notReady),
			[]string{"ChangedStatus: NFS server is not ready: pod shared-0 on node-1 is not ready"}},
		{"stays not ready for another reason: nothing", server("", reconciled, notReady), server("", reconciled, pending), nil},
		{"an apply fails", server("", reconciled, pending), server("", failed, pending), []string{"FailedCreation: claim refused"}},
		{"the same failure again: nothing", server("", failed, pending), server("", failed, pending), nil},
		{"another failure", server("", failed, pending), server("", failedOther, pending), []string{"FailedCreation: Service in the way"}},
		{"deletion begins", server("10.0.0.5:2049", reconciled, ready), server("", deleting),
			[]string{"Terminating: Deleting the NFS server."}},
		{"deletion goes on: nothing", server("", deleting), server("", deleting), nil},
		{"no status computed: nothing", server(""), server(""), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range transitions(tc.before, tc.after) {
				got = append(got, e.reason+": "+e.note)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
