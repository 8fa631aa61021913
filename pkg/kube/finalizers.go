package kube

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// AddFinalizer adds finalizer to obj unless it is there, with a patch that fails on a conflict (the object
// changed since it was read: reconcile again from the newer one). It reports whether it wrote.
func AddFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (bool, error) {
	before := obj.DeepCopyObject().(client.Object)
	if !controllerutil.AddFinalizer(obj, finalizer) {
		return false, nil
	}
	return true, c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// RemoveFinalizer removes finalizer from obj, with a patch that fails on a conflict; an object already gone is
// not an error.
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	before := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, finalizer) {
		return nil
	}
	return client.IgnoreNotFound(c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})))
}

// ReplaceFinalizer swaps old for replacement on obj in one patch that fails on a conflict, so the object is never
// without one of them. It reports whether it wrote (false when old is not there).
func ReplaceFinalizer(ctx context.Context, c client.Client, obj client.Object, old, replacement string) (bool, error) {
	before := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, old) {
		return false, nil
	}
	controllerutil.AddFinalizer(obj, replacement)
	return true, c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}
