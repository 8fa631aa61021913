package cluster

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
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
	r.configChecked.Delete(c.UID)
	if !controllerutil.ContainsFinalizer(c, Finalizer) {
		return ctrl.Result{}, nil
	}
	if s.base.Status.Phase != storageosv1.ClusterPhaseTerminating {
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, EventTerminating, "Delete", "Deleting all the resources...")
	}
	// Everything is unwanted now; what is left counts until it is gone, terminating or not.
	remaining, err := r.applier.Prune(ctx, managedLists(), ownedBy(c), nil)
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
	return ctrl.Result{}, kube.RemoveFinalizer(ctx, r.Client, c, Finalizer)
}

// pollWhileDeleting is how soon a deleting cluster looks again for what is left.
const pollWhileDeleting = 2 * time.Second
