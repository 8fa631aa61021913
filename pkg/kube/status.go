package kube

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SetCondition sets a condition stamped with the generation it describes, as every storageos.com condition is.
// It reports whether anything changed (the transition time moves only when the status does).
func SetCondition(conditions *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: generation,
	})
}

// PatchStatus writes obj's status as a merge patch against before, the object as it was read, and sends
// nothing when nothing changed. Controllers call it once, deferred, and return its error, so a failed write is
// retried with backoff rather than at the next resync. With client.MergeFromWithOptimisticLock{} the patch
// fails with a conflict when someone else wrote the object since it was read. An object deleted meanwhile has no
// status to write: that is not an error.
func PatchStatus(ctx context.Context, c client.Client, owner string, before, obj client.Object, opts ...client.MergeFromOption) error {
	// The reconcile may have written the object itself since before was read (a finalizer, a status write that
	// had to come before an act): compare and lock against the object as it last saw it.
	before = before.DeepCopyObject().(client.Object)
	before.SetResourceVersion(obj.GetResourceVersion())
	before.SetFinalizers(obj.GetFinalizers())
	if equality.Semantic.DeepEqual(before, obj) {
		return nil
	}
	return client.IgnoreNotFound(c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, opts...), client.FieldOwner(owner)))
}

// IgnoreConflict is nil for a conflict, err otherwise. A status write locked on the object as read (PatchStatus
// with client.MergeFromWithOptimisticLock) conflicts when the object changed since: the change's own watch event
// reconciles it again from the newer version, so nothing is lost and it is no error. Returned, it would be
// retried with backoff for nothing and counted in controller_runtime_reconcile_errors_total, which alerts read.
func IgnoreConflict(err error) error {
	if apierrors.IsConflict(err) {
		return nil
	}
	return err
}
