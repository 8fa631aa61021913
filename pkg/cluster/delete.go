package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// ownedBy selects every object a cluster created, whatever its operand.
func ownedBy(c *storageosv1.StorageOSCluster) client.MatchingLabels {
	return client.MatchingLabels{
		names.LabelManagedBy:        names.ClusterManager,
		names.LabelInstance:         c.Name,
		names.LabelClusterNamespace: c.Namespace,
	}
}

// reconcileDelete removes everything the cluster created, cluster-scoped objects and the namespace it created
// included, then the finalizer. It never needs the StorageOS API, so a cluster whose API is gone can still be
// deleted.
func (r *Reconciler) reconcileDelete(ctx context.Context, s *scope) (ctrl.Result, error) {
	s.deleting = true
	c := s.cluster
	if !controllerutil.ContainsFinalizer(c, Finalizer) {
		return ctrl.Result{}, nil
	}
	if s.base.Status.Phase != storageosv1.ClusterPhaseTerminating {
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "Terminating", "Delete", "Deleting all the resources...")
	}
	remaining := 0
	err := r.forEachManaged(ctx, ownedBy(c), func(gvk schema.GroupVersionKind, obj client.Object) error {
		remaining++ // until it is gone, terminating or not
		if !obj.GetDeletionTimestamp().IsZero() {
			return nil // asked already; Kubernetes finishes it
		}
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, obj, client.PropagationPolicy("Background"))); err != nil {
			return fmt.Errorf("deleting %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		}
		r.applier.Forget(gvk, obj)
		return nil
	})
	if err != nil {
		s.failed(err)
		return ctrl.Result{}, err
	}
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces, ownedBy(c)); err != nil {
		return ctrl.Result{}, err
	}
	for i := range namespaces.Items {
		// A terminating namespace is the namespace controller's to finish; the objects in it that were the
		// cluster's are already gone.
		if !namespaces.Items[i].DeletionTimestamp.IsZero() {
			continue
		}
		remaining++
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, &namespaces.Items[i])); err != nil {
			return ctrl.Result{}, err
		}
	}
	if remaining > 0 {
		// Deletions are seen through the cache; come back once they have landed.
		return ctrl.Result{RequeueAfter: pollWhileDeleting}, nil
	}
	controllerutil.RemoveFinalizer(c, Finalizer)
	if err := r.Client.Update(ctx, c); apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// pollWhileDeleting is how soon a deleting cluster looks again for what is left.
const pollWhileDeleting = 2 * time.Second

// metaItems returns a list's items as objects.
func metaItems(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("list item %T is not an object", o)
		}
		out = append(out, obj)
	}
	return out, nil
}
