package kube

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
)

// SecretCache returns an informer cache (not started) that holds exactly one Secret. The Secrets the managers
// read live in namespaces of the user's choosing and carry no label of ours, so the manager's cache does not
// hold them; caching every Secret of the cluster would cost memory in proportion to all of them.
func SecretCache(c cluster.Cluster, key types.NamespacedName) (cache.Cache, error) {
	return cache.New(c.GetConfig(), cache.Options{
		Scheme:            c.GetScheme(),
		Mapper:            c.GetRESTMapper(),
		DefaultNamespaces: map[string]cache.Config{key.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermEqualSelector("metadata.name", key.Name)},
		},
	})
}
