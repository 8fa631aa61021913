package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// referencedSecrets serves the secrets a cluster references (secretRefName, tlsEtcdSecretRefName) from one
// small informer per secret (kube.SecretCache), started on first use. Each informer also requeues the clusters
// referencing its secret, so a rotated password reaches the copies.
//
// An informer runs only while a cluster that is not being deleted references its secret: every watch is a
// connection to the API server, and references come and go (a typo fixed, a cluster deleted), so informers
// that outlived their reference would pile up for the life of the manager. Unreferenced informers are stopped
// after every read (which closes the race with a reconcile that read an older spec) and on every
// StorageOSCluster change (which covers deletions, after which nothing reads).
type referencedSecrets struct {
	// mgr builds the informers, with the manager's config, scheme and REST mapper.
	mgr ctrl.Manager
	// ctx lives as long as the manager; informers stop with it at the latest.
	ctx        context.Context
	controller controller.Controller
	// clusters lists the StorageOSClusters from the manager's cache, the one the reconciler reads them from, so
	// a reconcile never sees a cluster that the pruning does not.
	clusters client.Reader

	mu      sync.Mutex
	readers map[types.NamespacedName]cache.Cache
	// stops end the informers of secrets no cluster references any more.
	stops map[types.NamespacedName]context.CancelFunc
	// watchingClusters says whether cluster changes already trigger pruning; the watch is registered with the
	// first informer, as there is nothing to prune before.
	watchingClusters bool
	// running counts informer caches whose Start has not returned yet, i.e. whose watches may still be open.
	running atomic.Int32
}

// secretSyncTimeout bounds the first sync of a referenced secret's informer.
const secretSyncTimeout = 30 * time.Second

// get reads a referenced secret from its informer.
func (s *referencedSecrets) get(ctx context.Context, key types.NamespacedName, secret *corev1.Secret) error {
	reader, err := s.reader(ctx, key)
	if err != nil {
		return err
	}
	err = reader.Get(ctx, key, secret)
	// After the read, so the informer just used survives it even if the cluster was edited meanwhile; the
	// reconcile of the edit reads the new reference.
	s.prune(ctx)
	return err
}

func (s *referencedSecrets) reader(ctx context.Context, key types.NamespacedName) (client.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.readers[key]; ok {
		return c, nil
	}
	if err := s.watchClustersLocked(); err != nil {
		return nil, err
	}
	c, err := kube.SecretCache(s.mgr, key)
	if err != nil {
		return nil, err
	}
	informerCtx, stop := context.WithCancel(s.ctx)
	s.running.Add(1)
	go func() {
		defer s.running.Add(-1)
		_ = c.Start(informerCtx)
	}()
	syncCtx, cancel := context.WithTimeout(ctx, secretSyncTimeout)
	defer cancel()
	// GetInformer creates the Secret informer (a cache starts none by itself); WaitForCacheSync then waits for
	// it even if the cache had not started yet when it was created.
	informer, err := c.GetInformer(syncCtx, &corev1.Secret{})
	if err != nil || !c.WaitForCacheSync(syncCtx) {
		stop()
		return nil, fmt.Errorf("the informer of secret %s did not sync within %s", key, secretSyncTimeout)
	}
	// Changes to the secret requeue the clusters that reference it. The handler is added to the informer
	// directly rather than through source.Kind, which would tie a context to the controller's for good and so
	// outlive the informer.
	requeue := source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		enqueue := func() {
			for _, req := range s.referencing(informerCtx, key) {
				q.Add(req)
			}
		}
		_, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { enqueue() },
			UpdateFunc: func(any, any) { enqueue() },
			DeleteFunc: func(any) { enqueue() },
		})
		return err
	})
	if err := s.controller.Watch(requeue); err != nil {
		stop()
		return nil, fmt.Errorf("watching secret %s: %w", key, err)
	}
	s.readers[key] = c
	s.stops[key] = stop
	return c, nil
}

// watchClustersLocked makes every StorageOSCluster change prune the informers; s.mu must be held.
func (s *referencedSecrets) watchClustersLocked() error {
	if s.watchingClusters {
		return nil
	}
	// The handler enqueues nothing: the controller's own watch of the clusters does. The manager's cache has
	// applied the change before handlers run, so prune's list already reflects it.
	onChange := handler.TypedFuncs[*storageosv1.StorageOSCluster, reconcile.Request]{
		UpdateFunc: func(ctx context.Context, _ event.TypedUpdateEvent[*storageosv1.StorageOSCluster], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			s.prune(ctx)
		},
		DeleteFunc: func(ctx context.Context, _ event.TypedDeleteEvent[*storageosv1.StorageOSCluster], _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			s.prune(ctx)
		},
	}
	if err := s.controller.Watch(source.Kind(s.mgr.GetCache(), &storageosv1.StorageOSCluster{}, onChange)); err != nil {
		return fmt.Errorf("watching StorageOSClusters for secret references: %w", err)
	}
	s.watchingClusters = true
	return nil
}

// prune stops the informers of secrets that no StorageOSCluster references any more. A cluster being deleted
// does not count: its deletion reads no secret.
func (s *referencedSecrets) prune(ctx context.Context) {
	var list storageosv1.StorageOSClusterList
	if err := s.clusters.List(ctx, &list); err != nil {
		// Keep everything: stopping an informer still in use would fail reads; the next event prunes.
		return
	}
	referenced := map[types.NamespacedName]bool{}
	for _, c := range list.Items {
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		for _, key := range secretRefs(&c) {
			referenced[key] = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, stop := range s.stops {
		if !referenced[key] {
			stop()
			delete(s.stops, key)
			delete(s.readers, key)
		}
	}
}

// secretRefs are the secrets a cluster references.
func secretRefs(c *storageosv1.StorageOSCluster) []types.NamespacedName {
	out := []types.NamespacedName{{Namespace: string(c.Spec.SecretRefNamespace), Name: string(c.Spec.SecretRefName)}}
	if c.Spec.TLSEtcdSecretRefName != "" {
		out = append(out, types.NamespacedName{Namespace: string(c.Spec.TLSEtcdSecretRefNamespace), Name: string(c.Spec.TLSEtcdSecretRefName)})
	}
	return out
}

// informers reports the secrets whose informers are wanted, and how many informer caches still run (a stopped
// one counts until its watch has ended).
func (s *referencedSecrets) informers() (keys []types.NamespacedName, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.stops {
		keys = append(keys, key)
	}
	return keys, int(s.running.Load())
}

// referencing maps a secret to the clusters that reference it.
func (s *referencedSecrets) referencing(ctx context.Context, secret types.NamespacedName) []reconcile.Request {
	var list storageosv1.StorageOSClusterList
	if err := s.clusters.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		for _, key := range secretRefs(&c) {
			if key == secret {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
				break
			}
		}
	}
	return out
}
