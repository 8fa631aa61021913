package upgrade

import (
	"context"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// How the upgrade-manager reads the cluster. Discovery looks at every Deployment, StatefulSet, claim, volume
// and class of the cluster, and a waiting step looks again and again: those come from the manager's cache,
// trimmed to what the upgrade reads, so a look costs the API server nothing. What is read from the API server
// is what must be fresh (the upgrade itself, the cluster, the other upgrades that may block it) or what is not
// worth caching all the time (pods, the most numerous and busiest objects of a cluster): single objects by
// name, and lists narrowed by namespace and selector, a page at a time.

// CacheOptions caches the Jobs the upgrade-manager creates, and everything else it caches trimmed by
// trimForCache.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: trimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&storageosv1.Job{}: {Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.UpgradeManager})},
		},
	}
}

// cachedForDiscovery are the kinds discovery reads from the cache beside the workloads (which the controller
// watches): their informers start with the manager rather than on the first look of the first upgrade, so no
// step ever waits for a first sync.
func cachedForDiscovery() []client.Object {
	return []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolume{}, &storagev1.StorageClass{}}
}

// trimForCache drops what the upgrade never reads before an object enters the cache, so that caching every
// Deployment, StatefulSet, claim and volume of a large cluster stays small: managed fields and kubectl's copy
// of the last applied object (often larger than the rest), a workload's pod template but for its volumes
// (discovery looks only at volumes; the selector and replicas are in the spec), a claim's or volume's status.
// Cached objects are therefore partial: they are only read, and changed with patches that name the fields they
// set, never written back whole. Dropping fields is idempotent, as the informer requires of a transform.
func trimForCache(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil // a tombstone of a deleted object: it was trimmed when it entered the cache
	}
	obj.SetManagedFields(nil)
	if a := obj.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
		delete(a, corev1.LastAppliedConfigAnnotation)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Template = volumesOnly(o.Spec.Template)
	case *appsv1.StatefulSet:
		o.Spec.Template = volumesOnly(o.Spec.Template)
	case *corev1.PersistentVolumeClaim:
		o.Status = corev1.PersistentVolumeClaimStatus{}
	case *corev1.PersistentVolume:
		o.Status = corev1.PersistentVolumeStatus{}
	}
	return obj, nil
}

func volumesOnly(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: t.Spec.Volumes}}
}

// pageSize is how many objects a list from the API server returns at most: a list of everything at once
// costs the API server, and this process, memory in proportion to the cluster.
const pageSize = 500

// listPages lists from the API server a page at a time, each page into a new list from newList, handed to add.
// A fresh list per page: decoding into a list that already holds items can leave parts of them behind.
func listPages[L client.ObjectList](ctx context.Context, r client.Reader, newList func() L, add func(L), opts ...client.ListOption) error {
	opts = slices.Clip(opts) // appended to below: never into the caller's array
	for next := ""; ; {
		page := newList()
		if err := r.List(ctx, page, append(opts, client.Limit(pageSize), client.Continue(next))...); err != nil {
			return err
		}
		add(page)
		if next = page.GetContinue(); next == "" {
			return nil
		}
	}
}
