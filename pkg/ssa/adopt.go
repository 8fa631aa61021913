package ssa

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/pkg/names"
)

// AdoptFrom lets the applier take over objects that legacyOwner (the value of LabelManagedBy it put on its
// objects) created for the same instance: a live object is adopted only when its managed-by label is
// legacyOwner and its LabelInstance equals the desired object's. Nothing else is ever taken over.
// The legacy owner may also have left objects unlabelled (the original's CSIDriver): those named by unlabelled
// (Keys) are adopted when they carry no managed-by label at all.
func (a *Applier) AdoptFrom(legacyOwner string, unlabelled ...string) *Applier {
	a.legacyOwner = legacyOwner
	a.legacyUnlabelled = map[string]bool{}
	for _, key := range unlabelled {
		a.legacyUnlabelled[key] = true
	}
	return a
}

func (a *Applier) adoptable(gvk schema.GroupVersionKind, desired, live client.Object) bool {
	if a.legacyOwner == "" {
		return false
	}
	owner, labelled := live.GetLabels()[names.LabelManagedBy]
	if !labelled {
		return a.legacyUnlabelled[Key(gvk, live)]
	}
	return owner == a.legacyOwner && live.GetLabels()[names.LabelInstance] != "" &&
		live.GetLabels()[names.LabelInstance] == desired.GetLabels()[names.LabelInstance]
}

// replacedOnAdoption are the kinds whose whole content must become the desired one when adopted: fields the
// legacy owner set and we do not (an env var, a volume, a ConfigMap key) would otherwise stay, unowned, forever.
// Other kinds are taken over by the apply alone: their legacy-only fields are harmless (labels, annotations).
var replacedOnAdoption = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "DaemonSet"}:   true,
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "", Kind: "ConfigMap"}:       true,
	{Group: "", Kind: "Secret"}:          true,
}

// recreatedOnAdoption are the kinds that may be deleted and created again when their immutable fields (a
// selector) differ: stateless helpers, whose pods go with them.
var recreatedOnAdoption = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
}

var daemonSetKind = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}

// WaitingForLegacyError means an adopted object is being deleted so that it can be created again with its new
// immutable fields; the apply is retried once it is gone.
type WaitingForLegacyError struct {
	Kind, Name string
	// Deleted is true on the call that asked for the deletion.
	Deleted bool
}

func (e *WaitingForLegacyError) Error() string {
	return fmt.Sprintf("taking over %s %s from the original operator: waiting for the old object to be deleted (its pods keep running)",
		e.Kind, e.Name)
}

// adopt takes live over: its content is replaced by the desired object's where that is the only way to converge
// (an update keeps its UID), then the caller's apply claims the fields, and finally every other field manager's
// entries are dropped so that later applies own, and can remove, every field. When an immutable field differs,
// a stateless helper is deleted to be created again, and a DaemonSet is deleted with its pods orphaned: the new
// DaemonSet, whose selector matches them, adopts them, so storage pods keep running (and keep their UIDs).
func (a *Applier) adopt(ctx context.Context, u *unstructured.Unstructured, gvk schema.GroupVersionKind, live client.Object) error {
	if !live.GetDeletionTimestamp().IsZero() {
		return &WaitingForLegacyError{Kind: gvk.Kind, Name: client.ObjectKeyFromObject(live).String()}
	}
	if !replacedOnAdoption[gvk.GroupKind()] {
		return nil
	}
	replacement := u.DeepCopy()
	replacement.SetResourceVersion(live.GetResourceVersion())
	err := a.client.Update(ctx, replacement, client.FieldOwner(a.owner))
	if !apierrors.IsInvalid(err) {
		if err != nil {
			return fmt.Errorf("adopting %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(live), err)
		}
		return nil
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case gvk.GroupKind() == daemonSetKind:
		policy = metav1.DeletePropagationOrphan
	case !recreatedOnAdoption[gvk.GroupKind()]:
		return fmt.Errorf("adopting %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(live), err)
	}
	if err := client.IgnoreNotFound(a.client.Delete(ctx, live, client.PropagationPolicy(policy),
		client.Preconditions{UID: ptr.To(live.GetUID())})); err != nil {
		return fmt.Errorf("replacing %s %s to adopt it: %w", gvk.Kind, client.ObjectKeyFromObject(live), err)
	}
	return &WaitingForLegacyError{Kind: gvk.Kind, Name: client.ObjectKeyFromObject(live).String(), Deleted: true}
}

// relabelLegacyPods gives the pods of a DaemonSet that adopted the legacy owner's pods this owner's managed-by
// label, so that caches selecting on it see them. Only labels change: the pods are not restarted.
func (a *Applier) relabelLegacyPods(ctx context.Context, u *unstructured.Unstructured) error {
	selector, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if a.legacyOwner == "" || len(selector) == 0 {
		return nil
	}
	var pods corev1.PodList
	if err := a.live.List(ctx, &pods, client.InNamespace(u.GetNamespace()), client.MatchingLabels(selector),
		client.MatchingLabels{names.LabelManagedBy: a.legacyOwner}); err != nil {
		return err
	}
	patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, names.LabelManagedBy, a.owner))
	for i := range pods.Items {
		if err := client.IgnoreNotFound(a.client.Patch(ctx, &pods.Items[i], client.RawPatch(types.MergePatchType, patch))); err != nil {
			return fmt.Errorf("relabelling pod %s: %w", client.ObjectKeyFromObject(&pods.Items[i]), err)
		}
	}
	return nil
}

// dropOtherManagers leaves only this owner's apply entry in obj's managedFields.
func (a *Applier) dropOtherManagers(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) error {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(gvk)
	if err := a.live.Get(ctx, key, live); err != nil {
		return err
	}
	var keep []metav1.ManagedFieldsEntry
	for _, e := range live.GetManagedFields() {
		if e.Manager == a.owner && e.Operation == metav1.ManagedFieldsOperationApply {
			keep = append(keep, e)
		}
	}
	if len(keep) == len(live.GetManagedFields()) {
		return nil
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": keep},
	})
	if err != nil {
		return err
	}
	return a.client.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch))
}
