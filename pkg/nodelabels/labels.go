package nodelabels

import (
	"maps"
	"slices"
	"strings"
)

// ReservedPrefix marks the StorageOS node labels that drive StorageOS itself, such as
// storageos.com/computeonly. The sync writes such a key only when the Kubernetes node carries it (Kubernetes
// wins, as in the original operator) and never removes one: a StorageOS node's behaviour changes only because
// someone asked for it, not because a label went missing.
const ReservedPrefix = "storageos.com/"

// AnnotationSynced is the Kubernetes node annotation that lists the label keys the cluster-manager has copied
// to the StorageOS node of the same name, sorted and comma-separated (a label key cannot hold a comma). Those
// are the keys it removes from the StorageOS node once the Kubernetes node no longer has them; any other
// StorageOS label was set through StorageOS and is left alone. The list lives on the node, not in memory, so it
// survives restarts and leader changes.
const AnnotationSynced = "storageos.com/synced-labels"

// Plan is what one sync does to one StorageOS node.
type Plan struct {
	// Labels are the StorageOS node's labels after the sync.
	Labels map[string]string
	// Update is whether Labels differ from the current labels, i.e. whether the API must be called.
	Update bool
	// Synced are the keys to record in AnnotationSynced once Labels are written: the Kubernetes node's keys
	// outside ReservedPrefix, sorted.
	Synced []string
}

// Diff works out the labels of a StorageOS node from its Kubernetes node's labels (kube), its current labels
// (storageOS) and the keys recorded as synced earlier:
//   - every Kubernetes label is set, reserved keys included;
//   - a synced key Kubernetes no longer has is removed, unless it is reserved;
//   - every other StorageOS label stays.
func Diff(kube, storageOS map[string]string, synced []string) Plan {
	labels := maps.Clone(storageOS)
	if labels == nil {
		labels = map[string]string{}
	}
	for _, k := range synced {
		if _, ok := kube[k]; !ok && !reserved(k) {
			delete(labels, k)
		}
	}
	maps.Copy(labels, kube)
	var keys []string
	for k := range kube {
		if !reserved(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return Plan{Labels: labels, Update: !maps.Equal(labels, storageOS), Synced: keys}
}

func reserved(key string) bool { return strings.HasPrefix(key, ReservedPrefix) }

// decodeKeys reads AnnotationSynced into sorted, distinct keys, whatever order or spacing a hand edit left.
func decodeKeys(annotation string) []string {
	var keys []string
	for k := range strings.SplitSeq(annotation, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func encodeKeys(keys []string) string { return strings.Join(keys, ",") }

// union is the sorted, distinct keys of a and b.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
