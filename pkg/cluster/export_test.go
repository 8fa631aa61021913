package cluster

import "sigs.k8s.io/controller-runtime/pkg/client"

// ManagedLists returns an empty list of every kind a cluster deploys, for tests that look for leftovers.
func ManagedLists() []client.ObjectList {
	var out []client.ObjectList
	for _, k := range managedKinds {
		out = append(out, k.list())
	}
	return out
}

// MetaItems exposes metaItems to the tests.
var MetaItems = metaItems
