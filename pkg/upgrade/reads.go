package upgrade

import (
	"context"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// How the upgrade-manager reads the cluster. A waiting step looks again and again, and what it looks at grows
// with the cluster: every Deployment, StatefulSet, claim, volume and class (discovery), every unfinished pod (the
// plan, the applications' pods still up, the node pods being replaced), the ReplicaSets, batch Jobs and
// autoscalers between a pod and what the user manages (the plan), the image pull Job (its status lists every
// node). All of that comes from the manager's cache, trimmed to what the upgrade reads, so a look costs the API
// server nothing that grows with the cluster: on 5,000 nodes, listing the node pods on every look of the node
// step would be some 40 MB a look. What is read from the API server on each look is what must be fresh and is
// a handful of objects whatever the size: the upgrade itself, its cluster and the node DaemonSet, and, while
// it is Pending, the upgrades of its namespace that may go first.

// CacheOptions caches the Jobs the upgrade-manager creates and the pods that may still hold a volume (finished
// ones are left out by the API server), and everything it caches trimmed by trimForCache.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: trimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&storageosv1.Job{}: {Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.UpgradeManager})},
			&corev1.Pod{}:      {Field: unfinishedPods},
		},
	}
}

// cachedForLooks are the kinds a look reads from the cache beside the workloads and Jobs (which the controller
// watches): their informers start with the manager rather than on the first look of the first upgrade, so no
// step ever waits for a first sync.
func cachedForLooks() []client.Object {
	return []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolume{}, &storagev1.StorageClass{},
		&corev1.Pod{}, &autoscalingv2.HorizontalPodAutoscaler{},
		metadataOf(appsv1.SchemeGroupVersion.WithKind("ReplicaSet")), metadataOf(batchv1.SchemeGroupVersion.WithKind("Job"))}
}

// metadataOf is an object of kind gvk read as metadata only: the cache keeps its metadata informer.
func metadataOf(gvk schema.GroupVersionKind) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(gvk)
	return m
}

// unfinishedPods selects the pods that may still hold a volume: finished ones (evicted, completed) hold none,
// and scaling does not remove them.
var unfinishedPods = fields.AndSelectors(fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)),
	fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed)))

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
	case *corev1.Pod:
		trimPod(o)
	case *metav1.PartialObjectMetadata:
		// ReplicaSets and batch Jobs, for the plan, which follows owner references from a pod up and names them.
		o.Labels, o.Annotations = nil, nil
	case *autoscalingv2.HorizontalPodAutoscaler:
		o.Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
	}
	return obj, nil
}

// trimPod keeps of a pod what the plan, the scale-down and the node step read: its metadata but annotations, the
// volumes that may be StorageOS claims, the name and image of each container (a node pod's image says whether
// it is upgraded), its phase and readiness. Every unfinished pod of the cluster is cached, by every replica,
// upgrade or not, so a cached pod keeps nothing more.
func trimPod(p *corev1.Pod) {
	p.Annotations = nil
	spec := corev1.PodSpec{NodeName: p.Spec.NodeName}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil || v.Ephemeral != nil {
			spec.Volumes = append(spec.Volumes, v)
		}
	}
	for _, c := range p.Spec.Containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: c.Name, Image: c.Image})
	}
	status := corev1.PodStatus{Phase: p.Status.Phase}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			status.Conditions = append(status.Conditions, c)
		}
	}
	p.Spec, p.Status = spec, status
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
