package nfs

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
)

// reconcileDelete removes what Kubernetes' garbage collector does not: the cluster-scoped SCC binding, and the
// claim the operator created unless the reclaim policy is Retain. A claim the spec names is never deleted. It
// needs neither the StorageOSCluster nor the StorageOS API, so a server outliving its cluster is still deleted.
// Only this controller's finalizer (or the original operator's, which it took over) is removed.
func (r *Reconciler) reconcileDelete(ctx context.Context, nfs *storageosv1.NFSServer) error {
	if _, err := r.applier.Prune(ctx, []client.ObjectList{&rbacv1.ClusterRoleBindingList{}}, bindingSelector(nfs), nil); err != nil {
		return err
	}
	if OwnsClaim(nfs) && nfs.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		// The cache holds only claims with the operator's managed-by label; the server label says it is this
		// server's, not a claim of the same name someone else labelled.
		claim := &corev1.PersistentVolumeClaim{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: nfs.Namespace, Name: ClaimName(nfs)}, claim)
		if client.IgnoreNotFound(err) != nil {
			return err
		}
		if err == nil && claim.Labels[LabelServer] == nfs.Name && claim.Labels[names.LabelManagedBy] == names.ClusterManager &&
			claim.DeletionTimestamp.IsZero() {
			if err := client.IgnoreNotFound(r.Client.Delete(ctx, claim, client.PropagationPolicy(metav1.DeletePropagationBackground))); err != nil {
				return fmt.Errorf("deleting claim %s: %w", claim.Name, err)
			}
		}
	}
	if err := kube.RemoveFinalizer(ctx, r.Client, nfs, LegacyFinalizer); err != nil {
		return err
	}
	return kube.RemoveFinalizer(ctx, r.Client, nfs, Finalizer)
}
