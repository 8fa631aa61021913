package nodelabels

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The label rules without an API server or a StorageOS API: Kubernetes labels, StorageOS labels and the keys
// synced earlier in, the StorageOS labels to write out.

type labels = map[string]string

func TestDiff(t *testing.T) {
	cases := []struct {
		name      string
		kube      labels
		storageOS labels
		synced    []string
		want      Plan
	}{
		{name: "nothing anywhere", want: Plan{Labels: labels{}}},
		{name: "already equal: no API call",
			kube: labels{"zone": "a"}, storageOS: labels{"zone": "a"}, synced: []string{"zone"},
			want: Plan{Labels: labels{"zone": "a"}, Synced: []string{"zone"}}},
		{name: "a new Kubernetes label is added",
			kube: labels{"zone": "a", "rack": "1"}, storageOS: labels{"zone": "a"}, synced: []string{"zone"},
			want: Plan{Labels: labels{"zone": "a", "rack": "1"}, Update: true, Synced: []string{"rack", "zone"}}},
		{name: "a changed Kubernetes label is updated",
			kube: labels{"zone": "b"}, storageOS: labels{"zone": "a"}, synced: []string{"zone"},
			want: Plan{Labels: labels{"zone": "b"}, Update: true, Synced: []string{"zone"}}},
		{name: "a synced key Kubernetes dropped is removed",
			kube: labels{"zone": "a"}, storageOS: labels{"zone": "a", "rack": "1"}, synced: []string{"rack", "zone"},
			want: Plan{Labels: labels{"zone": "a"}, Update: true, Synced: []string{"zone"}}},
		{name: "a StorageOS label the sync never wrote stays",
			kube: labels{"zone": "a"}, storageOS: labels{"zone": "a", "tier": "gold"}, synced: []string{"zone"},
			want: Plan{Labels: labels{"zone": "a", "tier": "gold"}, Synced: []string{"zone"}}},
		{name: "a StorageOS label of a key Kubernetes now has is overwritten: Kubernetes wins",
			kube: labels{"tier": "silver"}, storageOS: labels{"tier": "gold"},
			want: Plan{Labels: labels{"tier": "silver"}, Update: true, Synced: []string{"tier"}}},
		{name: "a synced key already gone from both needs no call, and is forgotten",
			kube: labels{}, storageOS: labels{}, synced: []string{"rack"},
			want: Plan{Labels: labels{}}},
		{name: "a reserved StorageOS label stays when Kubernetes lacks it",
			kube: labels{"zone": "a"}, storageOS: labels{"storageos.com/computeonly": "true"},
			want: Plan{Labels: labels{"zone": "a", "storageos.com/computeonly": "true"}, Update: true, Synced: []string{"zone"}}},
		{name: "a reserved label on the Kubernetes node wins, and is not recorded as synced",
			kube: labels{"storageos.com/computeonly": "true"}, storageOS: labels{"storageos.com/computeonly": "false"},
			want: Plan{Labels: labels{"storageos.com/computeonly": "true"}, Update: true}},
		{name: "a reserved key is never removed, even listed as synced (a hand-edited annotation)",
			kube: labels{}, storageOS: labels{"storageos.com/computeonly": "true"}, synced: []string{"storageos.com/computeonly"},
			want: Plan{Labels: labels{"storageos.com/computeonly": "true"}}},
		{name: "every Kubernetes label is removed",
			kube: nil, storageOS: labels{"zone": "a", "rack": "1"}, synced: []string{"rack", "zone"},
			want: Plan{Labels: labels{}, Update: true}},
		{name: "a StorageOS node that reports no labels",
			kube: labels{"zone": "a"}, storageOS: nil,
			want: Plan{Labels: labels{"zone": "a"}, Update: true, Synced: []string{"zone"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storageOS := maps.Clone(tc.storageOS)
			assert.Equal(t, tc.want, Diff(tc.kube, tc.storageOS, tc.synced))
			assert.Equal(t, storageOS, tc.storageOS, "the StorageOS node's labels as read are not changed")
		})
	}
}

func TestSyncedKeysAnnotation(t *testing.T) {
	cases := []struct {
		annotation string
		want       []string
	}{
		{"", nil},
		{"zone", []string{"zone"}},
		{"zone,kubernetes.io/hostname,rack", []string{"kubernetes.io/hostname", "rack", "zone"}},
		{" zone , ,rack,zone", []string{"rack", "zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.annotation, func(t *testing.T) {
			got := decodeKeys(tc.annotation)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, got, decodeKeys(encodeKeys(got)), "what is written reads back the same")
		})
	}
	assert.Equal(t, []string{"a", "b", "c"}, union([]string{"a", "c"}, []string{"b", "c"}))
	assert.Empty(t, union(nil, nil))
}
