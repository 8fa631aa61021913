package nfs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
)

// event is one event to send about a server.
type event struct {
	kind, reason, action, note string
}

// transitions are the events of the original operator that a status change from before to after calls for:
// each is sent once per transition of the conditions it follows, after the status that records the transition
// is written.
func transitions(before, after *storageosv1.NFSServer) []event {
	wasReady := meta.FindStatusCondition(before.Status.Conditions, ConditionReady)
	wasReconciled := meta.FindStatusCondition(before.Status.Conditions, ConditionReconciled)
	ready := meta.FindStatusCondition(after.Status.Conditions, ConditionReady)
	reconciled := meta.FindStatusCondition(after.Status.Conditions, ConditionReconciled)
	if reconciled == nil {
		return nil
	}
	if reconciled.Reason == ReasonDeleting {
		if wasReconciled == nil || wasReconciled.Reason != ReasonDeleting {
			return []event{{corev1.EventTypeNormal, cluster.EventTerminating, "Delete", "Deleting the NFS server."}}
		}
		return nil
	}
	var out []event
	if reconciled.Reason == ReasonApplyFailed && (wasReconciled == nil || wasReconciled.Message != reconciled.Message) {
		out = append(out, event{corev1.EventTypeWarning, cluster.EventFailedCreation, "Reconcile", reconciled.Message})
	}
	if ready == nil {
		return out
	}
	was := wasReady != nil && wasReady.Status == metav1.ConditionTrue
	switch now := ready.Status == metav1.ConditionTrue; {
	case now && (!was || before.Status.RemoteTarget != after.Status.RemoteTarget):
		// Ready, or ready at another address.
		out = append(out, event{corev1.EventTypeNormal, cluster.EventChangedStatus, "Ready",
			"NFS server is now functional: " + after.Status.RemoteTarget})
	case !now && was:
		out = append(out, event{corev1.EventTypeWarning, cluster.EventChangedStatus, "NotReady",
			"NFS server is not ready: " + ready.Message})
	}
	return out
}
