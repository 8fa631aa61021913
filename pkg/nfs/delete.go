package nfs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
)

// reconcileDelete deletes what Kubernetes' garbage collector does not: the claim the operator created, unless
// the reclaim policy is Retain. A claim the spec names is never deleted. It needs neither the StorageOSCluster
// nor the StorageOS API, so a server outliving its cluster is still deleted. Only this controller's finalizer
// (or the original operator's, which it took over) is removed.
func (r *Reconciler) reconcileDelete(ctx context.Context, nfs *storageosv1.NFSServer) error {
	if nfs.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		claims, err := r.ownClaims(ctx, nfs)
		if err != nil {
			return err
		}
		for i := range claims {
			if !claims[i].DeletionTimestamp.IsZero() {
				continue
			}
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, &claims[i], client.PropagationPolicy(metav1.DeletePropagationBackground))); err != nil {
				return fmt.Errorf("deleting claim %s: %w", claims[i].Name, err)
			}
		}
	}
	if err := kube.RemoveFinalizer(ctx, r.Client, nfs, LegacyFinalizer); err != nil {
		return err
	}
	return kube.RemoveFinalizer(ctx, r.Client, nfs, Finalizer)
}

// ownClaims are the claims the operator created for the server, read from the API server rather than the cache:
// one created by the reconcile just before the deletion may not be in the cache yet, and a claim missed here
// would stay forever. The server's label finds them whatever its spec says now; a claim of the original
// operator's that was not adopted yet is found by its name (the original named it after the server).
func (r *Reconciler) ownClaims(ctx context.Context, nfs *storageosv1.NFSServer) ([]corev1.PersistentVolumeClaim, error) {
	var list corev1.PersistentVolumeClaimList
	if err := r.live.List(ctx, &list, client.InNamespace(nfs.Namespace),
		client.MatchingLabels{LabelServer: nfs.Name, names.LabelComponent: component, names.LabelManagedBy: names.ClusterManager}); err != nil {
		return nil, err
	}
	claims := list.Items
	if OwnsClaim(nfs) {
		legacy := &corev1.PersistentVolumeClaim{}
		err := r.live.Get(ctx, client.ObjectKey{Namespace: nfs.Namespace, Name: nfs.Name}, legacy)
		switch {
		case err == nil && legacy.Labels[names.LabelManagedBy] == names.LegacyOperator && legacy.Labels[names.LabelComponent] == component:
			claims = append(claims, *legacy)
		case err != nil && !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	return claims, nil
}
