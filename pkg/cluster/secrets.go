package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// referencedSecrets serves the secrets a cluster references (secretRefName, tlsEtcdSecretRefName) from one
// small informer per secret (kube.SecretCache), started on first use. Each informer also requeues the clusters referencing its secret, so
// a rotated password reaches the copies.
type referencedSecrets struct {
	// mgr builds the informers, with the manager's config, scheme and REST mapper.
	mgr ctrl.Manager
	// ctx lives as long as the manager; informers stop with it.
	ctx        context.Context
	controller controller.Controller
	clusters   client.Reader

	mu      sync.Mutex
	readers map[types.NamespacedName]cache.Cache
	// stops end the informers; they run as long as the manager.
	stops map[types.NamespacedName]context.CancelFunc
}

// secretSyncTimeout bounds the first sync of a referenced secret's informer.
const secretSyncTimeout = 30 * time.Second

// get reads a referenced secret from its informer.
func (s *referencedSecrets) get(ctx context.Context, key types.NamespacedName, secret *corev1.Secret) error {
	reader, err := s.reader(ctx, key)
	if err != nil {
		return err
	}
	return reader.Get(ctx, key, secret)
}

func (s *referencedSecrets) reader(ctx context.Context, key types.NamespacedName) (client.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.readers[key]; ok {
		return c, nil
	}
	c, err := kube.SecretCache(s.mgr, key)
	if err != nil {
		return nil, err
	}
	informerCtx, stop := context.WithCancel(s.ctx)
	go func() { _ = c.Start(informerCtx) }()
	syncCtx, cancel := context.WithTimeout(ctx, secretSyncTimeout)
	defer cancel()
	if !c.WaitForCacheSync(syncCtx) {
		stop()
		return nil, fmt.Errorf("the informer of secret %s did not sync within %s", key, secretSyncTimeout)
	}
	// Changes to the secret requeue the clusters that reference it.
	if err := s.controller.Watch(source.Kind(c, &corev1.Secret{}, handler.TypedEnqueueRequestsFromMapFunc(s.referencing))); err != nil {
		stop()
		return nil, fmt.Errorf("watching secret %s: %w", key, err)
	}
	s.readers[key] = c
	s.stops[key] = stop
	return c, nil
}

// referencing maps a secret to the clusters that reference it.
func (s *referencedSecrets) referencing(ctx context.Context, secret *corev1.Secret) []reconcile.Request {
	var list storageosv1.StorageOSClusterList
	if err := s.clusters.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		api := string(c.Spec.SecretRefNamespace) == secret.Namespace && string(c.Spec.SecretRefName) == secret.Name
		etcd := string(c.Spec.TLSEtcdSecretRefNamespace) == secret.Namespace && string(c.Spec.TLSEtcdSecretRefName) == secret.Name
		if api || etcd {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
		}
	}
	return out
}
