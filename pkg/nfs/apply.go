package nfs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// apply converges the server's objects, in order, and the settings of its volume.
func (r *Reconciler) apply(ctx context.Context, nfs *storageosv1.NFSServer, active *storageosv1.StorageOSCluster) error {
	// A claim's class cannot change: pin the class of the claim the operator creates in the spec, as the
	// original did, so a later change of the cluster's default does not break the server (and the STORAGECLASS
	// column says what it uses).
	if OwnsClaim(nfs) && nfs.Spec.StorageClassName == "" {
		patchBase := nfs.DeepCopy()
		nfs.Spec.StorageClassName = string(active.Spec.StorageClassName)
		if err := r.Client.Patch(ctx, nfs, client.MergeFromWithOptions(patchBase, client.MergeFromWithOptimisticLock{}),
			client.FieldOwner(names.ClusterManager)); err != nil {
			return fmt.Errorf("setting spec.storageClassName: %w", err)
		}
	}
	// The volume's settings first, so that a pod rolled for new mount options mounts with them.
	errs := []error{r.applyVolumeSettings(ctx, nfs)}
	in := Input{Server: nfs, Cluster: active, Getenv: r.Getenv, ServiceMonitors: r.monitors.served()}
	// Every object is applied even when one fails: a claim that refuses to grow must not hold back a new
	// export configuration.
	for _, obj := range Objects(in) {
		errs = append(errs, r.applyOne(ctx, nfs, obj))
	}
	if !desired.IsOpenShift(active) {
		errs = append(errs, r.deleteOwn(ctx, nfs, sccBinding(in)))
	}
	return errors.Join(errs...)
}

func (r *Reconciler) applyOne(ctx context.Context, nfs *storageosv1.NFSServer, obj client.Object) error {
	if err := r.notAnotherServers(ctx, nfs, obj); err != nil {
		return err
	}
	_, adopted, err := r.applier.ApplyAdopting(ctx, obj)
	if _, optional := obj.(*unstructured.Unstructured); optional && (apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
		// The ServiceMonitor kind went away since it was looked up: nothing to monitor with.
		r.monitors.forget()
		return nil
	}
	if _, isClaim := obj.(*corev1.PersistentVolumeClaim); isClaim && (apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) {
		// The claim refuses a change: the only field of it a spec edit can change is its size.
		err = fmt.Errorf("spec.resources.requests.storage %s: %w", ptr.To(Capacity(nfs)), err)
	}
	if adopted {
		r.Recorder.Eventf(nfs, nil, corev1.EventTypeNormal, cluster.EventAdopted, "Adopt",
			"took over %s %s from the original operator", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
	}
	return err
}

// notAnotherServers refuses to apply over an object the cluster-manager made for something else (the cluster, or
// another server): both are applied under the same field owner, so the applier would not tell them apart. An
// NFSServer named like one of the cluster's objects, in the cluster's namespace, must not take it over.
func (r *Reconciler) notAnotherServers(ctx context.Context, nfs *storageosv1.NFSServer, obj client.Object) error {
	if _, untyped := obj.(*unstructured.Unstructured); untyped {
		return nil // not cached; the ServiceMonitor's name is the server's own anyway
	}
	live := obj.DeepCopyObject().(client.Object)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), live); err != nil {
		return client.IgnoreNotFound(err) // not cached: missing, or not the cluster-manager's (the applier decides)
	}
	if l := live.GetLabels(); l[LabelServer] != nfs.Name || l[names.LabelComponent] != component {
		gvk, _ := apiutil.GVKForObject(obj, r.Scheme)
		return &ssa.NotOursError{Kind: gvk.Kind, Name: client.ObjectKeyFromObject(obj).String(),
			Owner: "NFSServer " + nfs.Name + " (it is the StorageOS cluster's or another server's)"}
	}
	return nil
}

// deleteOwn deletes obj if it exists and is this server's.
func (r *Reconciler) deleteOwn(ctx context.Context, nfs *storageosv1.NFSServer, obj client.Object) error {
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if obj.GetLabels()[LabelServer] != nfs.Name || !obj.GetDeletionTimestamp().IsZero() {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, obj))
}

// applyVolumeSettings sets the reclaim policy and mount options on the volume bound to the claim the operator
// created, once it is bound.
func (r *Reconciler) applyVolumeSettings(ctx context.Context, nfs *storageosv1.NFSServer) error {
	if !OwnsClaim(nfs) {
		return nil
	}
	claim := &corev1.PersistentVolumeClaim{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: nfs.Namespace, Name: ClaimName(nfs)}, claim); err != nil {
		return client.IgnoreNotFound(err)
	}
	settings := VolumeSettings(nfs, claim.Spec.VolumeName)
	if settings == nil || claim.Status.Phase != corev1.ClaimBound {
		return nil
	}
	return r.volumes.Do(settings, func() error {
		err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(settings),
			client.FieldOwner(names.ClusterManager), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("setting persistentVolumeReclaimPolicy and mountOptions on PersistentVolume %s: %w", settings.GetName(), err)
		}
		return nil
	})
}

// servedKind remembers for a while whether a kind is served: where it is not, every lookup is a discovery
// request to the API server.
type servedKind struct {
	mapper meta.RESTMapper
	kind   schema.GroupKind
	// recheck is how soon a kind installed (or removed) after the last look is noticed.
	recheck time.Duration

	mu      sync.Mutex
	checked time.Time
	answer  bool
}

func (s *servedKind) served() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checked.IsZero() || time.Since(s.checked) > s.recheck {
		_, err := s.mapper.RESTMapping(s.kind)
		s.answer, s.checked = err == nil, time.Now()
	}
	return s.answer
}

// forget makes the next call look again.
func (s *servedKind) forget() {
	s.mu.Lock()
	s.checked = time.Time{}
	s.mu.Unlock()
}
