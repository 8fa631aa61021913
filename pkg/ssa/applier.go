// Package ssa applies desired objects with server-side apply under one field owner per binary, and does not
// send an object again while neither its desired state nor the live object has changed.
package ssa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/storageos/cluster-operator/pkg/names"
)

// Applier applies desired objects with server-side apply and does not send an object again while neither its
// desired state nor the live object (as the cache sees it: liveVersion) has changed since the last apply. The
// memory is only an optimisation: after a restart every object is applied once more, which is a no-op on the
// server.
type Applier struct {
	client client.Client
	// live reads around the cache, which only holds objects carrying our managed-by label.
	live   client.Reader
	scheme *runtime.Scheme
	owner  string
	// legacyOwner is the managed-by value of objects that may be adopted (AdoptFrom); empty: none.
	legacyOwner      string
	legacyUnlabelled map[string]bool

	mu   sync.Mutex
	last map[string]appliedState
}

type appliedState struct {
	desiredHash, liveVersion string
}

// liveVersion is what of a live object, when it changes, may have taken it away from what was applied: its
// generation and metadata for a kind whose spec edits bump the generation, so that status updates (a
// DaemonSet's with each pod a Job or an upgrade starts, thousands on a large cluster) do not cost an apply
// each; its resourceVersion for the others.
func liveVersion(obj client.Object) (string, error) {
	if obj.GetGeneration() == 0 {
		return obj.GetResourceVersion(), nil
	}
	// The UID: an object deleted and created again by someone else starts again at generation 1.
	raw, err := json.Marshal([]any{obj.GetUID(), obj.GetGeneration(), obj.GetLabels(), obj.GetAnnotations(),
		obj.GetOwnerReferences(), obj.GetFinalizers(), obj.GetDeletionTimestamp()})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// NotOursError means an object of the same name exists and was not created by this field owner: it is left
// alone rather than taken over (and later deleted).
type NotOursError struct {
	Kind, Name, Owner string
}

func (e *NotOursError) Error() string {
	return fmt.Sprintf("%s %s already exists and is not managed by %s: remove or rename it, or choose another name in the spec",
		e.Kind, e.Name, e.Owner)
}

// New returns an Applier that applies as field owner, and labels what it applies names.LabelManagedBy=owner.
// Reads go through c, which should be cache-backed (on that label); live is asked only when the cache does
// not have an object, to tell "missing" from "someone else's".
func New(c client.Client, live client.Reader, scheme *runtime.Scheme, owner string) *Applier {
	return &Applier{client: c, live: live, scheme: scheme, owner: owner, last: map[string]appliedState{}}
}

// recreatable kinds have immutable fields (a StorageClass's provisioner and parameters, a CSIDriver's spec, a
// binding's roleRef, a Secret's type) that a spec edit or a new version may change. Replacing them is harmless:
// existing volumes do not depend on the objects, a binding is missing only between its delete and its create,
// and the kubelet keeps a mounted Secret's last content until the new one appears.
var recreatable = map[schema.GroupKind]bool{
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                  true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                     true,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: true,
	// A Secret's type is immutable; the etcd TLS copy became Opaque (it carried its source's type before).
	{Group: "", Kind: "Secret"}: true,
}

// Apply makes the live object match obj in the fields this field owner manages. It reports whether a request
// was sent.
func (a *Applier) Apply(ctx context.Context, obj client.Object) (bool, error) {
	sent, _, err := a.ApplyAdopting(ctx, obj)
	return sent, err
}

// ApplyAdopting is Apply that also reports whether it took over an object of the legacy owner (AdoptFrom).
func (a *Applier) ApplyAdopting(ctx context.Context, obj client.Object) (sent, adopted bool, err error) {
	u, gvk, err := a.toUnstructured(obj)
	if err != nil {
		return false, false, err
	}
	hash, err := contentHash(u)
	if err != nil {
		return false, false, err
	}
	key := Key(gvk, obj)
	a.mu.Lock()
	prev, known := a.last[key]
	a.mu.Unlock()

	// A typed object, so the read is served from the informer cache.
	live := obj.DeepCopyObject().(client.Object)
	err = a.client.Get(ctx, client.ObjectKeyFromObject(obj), live)
	switch {
	case err == nil:
		version, err := liveVersion(live)
		if err != nil {
			return false, false, err
		}
		if known && prev.desiredHash == hash && prev.liveVersion == version {
			return false, false, nil
		}
	case !apierrors.IsNotFound(err):
		return false, false, err
	default:
		existing := obj.DeepCopyObject().(client.Object)
		err := a.live.Get(ctx, client.ObjectKeyFromObject(obj), existing)
		switch {
		case err == nil && a.adoptable(gvk, u, existing):
			if err := a.adopt(ctx, u, gvk, existing); err != nil {
				return true, false, err
			}
			adopted = true
		case err == nil && existing.GetLabels()[names.LabelManagedBy] != a.owner:
			name := strings.TrimPrefix(client.ObjectKeyFromObject(obj).String(), "/") // cluster-scoped: no "/"
			return false, false, &NotOursError{Kind: gvk.Kind, Name: name, Owner: a.owner}
		case err != nil && !apierrors.IsNotFound(err):
			return false, false, err
		}
	}

	err = a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(a.owner), client.ForceOwnership)
	if apierrors.IsInvalid(err) && recreatable[gvk.GroupKind()] {
		if err := client.IgnoreNotFound(a.client.Delete(ctx, obj.DeepCopyObject().(client.Object))); err != nil {
			return true, adopted, fmt.Errorf("replacing %s %s: %w", gvk.Kind, obj.GetName(), err)
		}
		u, _, _ = a.toUnstructured(obj)
		err = a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(a.owner), client.ForceOwnership)
	}
	if err != nil {
		return true, adopted, fmt.Errorf("applying %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
	}
	if adopted {
		if err := a.dropOtherManagers(ctx, gvk, client.ObjectKeyFromObject(obj)); err != nil {
			return true, true, fmt.Errorf("adopting %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		}
	}
	// Legacy pods can only be there the first time this process applies the DaemonSet (after an adoption, a
	// failed relabel, or a restart): later applies skip the pod list.
	if gvk.GroupKind() == daemonSetKind && !known {
		if err := a.relabelLegacyPods(ctx, u); err != nil {
			return true, adopted, err
		}
	}
	version, err := liveVersion(u)
	if err != nil {
		return true, adopted, err
	}
	a.mu.Lock()
	a.last[key] = appliedState{desiredHash: hash, liveVersion: version}
	a.mu.Unlock()
	return true, adopted, nil
}

// Prune deletes what this owner applied earlier and no longer wants: the objects in lists (new empty lists,
// one per kind) that carry selector and this owner's managed-by label and whose Key is not in keep. It
// returns how many of them are still there: deleted now, or already terminating.
func (a *Applier) Prune(ctx context.Context, lists []client.ObjectList, selector client.MatchingLabels, keep map[string]bool) (int, error) {
	remaining := 0
	for _, list := range lists {
		if err := a.client.List(ctx, list, selector, client.MatchingLabels{names.LabelManagedBy: a.owner}); err != nil {
			return remaining, err
		}
		err := meta.EachListItem(list, func(item runtime.Object) error {
			obj := item.(client.Object) // every item of a typed list is one
			gvk, err := apiutil.GVKForObject(obj, a.scheme)
			if err != nil || keep[Key(gvk, obj)] {
				return err
			}
			remaining++
			if !obj.GetDeletionTimestamp().IsZero() {
				return nil // asked already; Kubernetes finishes it
			}
			if err := client.IgnoreNotFound(a.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))); err != nil {
				return fmt.Errorf("deleting %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
			}
			a.Forget(gvk, obj)
			return nil
		})
		if err != nil {
			return remaining, err
		}
	}
	return remaining, nil
}

// Forget drops the memory of an object that was deleted.
func (a *Applier) Forget(gvk schema.GroupVersionKind, obj client.Object) {
	a.mu.Lock()
	delete(a.last, Key(gvk, obj))
	a.mu.Unlock()
}

func (a *Applier) toUnstructured(obj client.Object) (*unstructured.Unstructured, schema.GroupVersionKind, error) {
	gvk, err := apiutil.GVKForObject(obj, a.scheme)
	if err != nil {
		return nil, gvk, err
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, gvk, err
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetGroupVersionKind(gvk)
	// Typed objects carry an empty creationTimestamp and status; applying them would claim those fields.
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	// The label that says whose an object is comes from the field owner, so the two cannot disagree. A
	// workload's pods carry it too: caches select them by it. Typed objects convert to maps all the way down,
	// so setting a label cannot fail.
	_ = unstructured.SetNestedField(u.Object, a.owner, "metadata", "labels", names.LabelManagedBy)
	if _, isWorkload, _ := unstructured.NestedMap(u.Object, "spec", "template"); isWorkload {
		_ = unstructured.SetNestedField(u.Object, a.owner, "spec", "template", "metadata", "labels", names.LabelManagedBy)
	}
	return u, gvk, nil
}

// contentHash identifies what is sent for an object, so that the same desired object is not sent twice.
func contentHash(u *unstructured.Unstructured) (string, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// Key identifies an object by kind, namespace and name.
func Key(gvk schema.GroupVersionKind, obj client.Object) string {
	return gvk.GroupKind().String() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}
