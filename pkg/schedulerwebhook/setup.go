package schedulerwebhook

import (
	"context"
	"errors"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// The webhook reads PVCs, PVs, StorageClasses, StorageOSClusters and the labels of namespaces, from its cache
// only.
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;persistentvolumes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;watch

// Setup registers the handler on the manager's webhook server, filling an unset Lister with the manager's
// cache (and the API server for claims the cache has not seen yet), starts the informers it reads, and makes
// the binary ready only once the server serves and the caches are synced, so no admission waits on an informer.
func Setup(ctx context.Context, mgr ctrl.Manager, h *Handler) error {
	if h.Lister == nil {
		h.Lister = CacheLister{Reader: mgr.GetCache(), Live: mgr.GetAPIReader()}
	}
	for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolume{}, &storagev1.StorageClass{},
		&storageosv1.StorageOSCluster{}, NamespaceMetadata()} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return err
		}
	}
	server := mgr.GetWebhookServer()
	server.Register(Path, &webhook.Admission{Handler: h})
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches not synced")
		}
		return nil
	})
}
