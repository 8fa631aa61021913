package schedulerwebhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

// SchedulerReadyCondition is the StorageOSCluster condition the cluster-manager sets once its scheduler runs.
const SchedulerReadyCondition = "SchedulerReady"

// CacheLister answers from a cache-backed reader (the manager's client), so an admission costs no API call.
type CacheLister struct {
	Reader client.Reader
	// Live, when set, is asked for a claim the cache does not have. The StatefulSet controller creates a pod's
	// claim an instant before the pod, as does kubectl apply of a workload with its claim: the informer may not
	// have seen it yet, and the pod would be admitted unchanged. Only a cache miss costs a request.
	Live client.Reader
}

var _ Lister = CacheLister{}

// PVC is the named claim; nil if missing, as are the objects below.
func (c CacheLister) PVC(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	pvc, err := get[corev1.PersistentVolumeClaim](ctx, c.Reader, key)
	if pvc != nil || err != nil || c.Live == nil {
		return pvc, err
	}
	return get[corev1.PersistentVolumeClaim](ctx, c.Live, key)
}

// StorageClass is the named class.
func (c CacheLister) StorageClass(ctx context.Context, name string) (*storagev1.StorageClass, error) {
	return get[storagev1.StorageClass](ctx, c.Reader, client.ObjectKey{Name: name})
}

// PersistentVolume is the named volume.
func (c CacheLister) PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error) {
	return get[corev1.PersistentVolume](ctx, c.Reader, client.ObjectKey{Name: name})
}

// get reads one object; a missing one is nil, as the Lister's callers expect.
func get[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, r client.Reader, key client.ObjectKey) (PT, error) {
	obj := PT(new(T))
	if err := r.Get(ctx, key, obj); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return obj, nil
}

// DefaultStorageClass is the class marked default; with several, the newest, as the API server picks.
func (c CacheLister) DefaultStorageClass(ctx context.Context) (*storagev1.StorageClass, error) {
	var list storagev1.StorageClassList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, err
	}
	return volumes.DefaultClass(list.Items), nil
}

// NamespaceOptedOut reports whether the namespace opted out by label. Namespaces are cached as metadata only
// (the labels are all that is needed); like a claim, a namespace the cache has not seen yet is asked of Live.
// One that exists nowhere has not opted out.
func (c CacheLister) NamespaceOptedOut(ctx context.Context, namespace string) (bool, error) {
	ns, err := namespaceMeta(ctx, c.Reader, namespace)
	if ns == nil && err == nil && c.Live != nil {
		ns, err = namespaceMeta(ctx, c.Live, namespace)
	}
	if ns == nil || err != nil {
		return false, err
	}
	return ns.Labels[NamespaceOptOutLabel] == NamespaceOptOutValue, nil
}

// namespaceMeta is the named namespace's metadata; nil if missing.
func namespaceMeta(ctx context.Context, r client.Reader, name string) (*metav1.PartialObjectMetadata, error) {
	ns := NamespaceMetadata()
	if err := r.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return ns, nil
}

// NamespaceMetadata is an empty Namespace as metadata only, the form the handler caches namespaces in.
func NamespaceMetadata() *metav1.PartialObjectMetadata {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return ns
}

// SchedulerEnabled reports whether a StorageOSCluster's scheduler runs.
func (c CacheLister) SchedulerEnabled(ctx context.Context) (bool, error) {
	var list storageosv1.StorageOSClusterList
	if err := c.Reader.List(ctx, &list); err != nil {
		return false, err
	}
	// Only a cluster whose scheduler is up: a pod sent to a scheduler that does not run (a blocked second
	// cluster, one still deploying) would stay Pending.
	for _, cluster := range list.Items {
		if cluster.DeletionTimestamp.IsZero() && !cluster.Spec.DisableScheduler &&
			meta.IsStatusConditionTrue(cluster.Status.Conditions, SchedulerReadyCondition) {
			return true, nil
		}
	}
	return false, nil
}
