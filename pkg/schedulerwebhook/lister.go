package schedulerwebhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

// SchedulerReadyCondition is the StorageOSCluster condition the cluster-manager sets once its scheduler runs.
const SchedulerReadyCondition = "SchedulerReady"

// CacheLister answers from a cache-backed reader (the manager's client), so an admission costs no API call.
type CacheLister struct {
	Reader client.Reader
}

var _ Lister = CacheLister{}

func (c CacheLister) PVC(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	pvc := &corev1.PersistentVolumeClaim{}
	if err := c.Reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pvc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return pvc, nil
}

func (c CacheLister) StorageClass(ctx context.Context, name string) (*storagev1.StorageClass, error) {
	sc := &storagev1.StorageClass{}
	if err := c.Reader.Get(ctx, client.ObjectKey{Name: name}, sc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return sc, nil
}

// DefaultStorageClass is the class marked default; with several, the newest, as the API server picks.
func (c CacheLister) DefaultStorageClass(ctx context.Context) (*storagev1.StorageClass, error) {
	var list storagev1.StorageClassList
	if err := c.Reader.List(ctx, &list); err != nil {
		return nil, err
	}
	return volumes.DefaultClass(list.Items), nil
}

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
