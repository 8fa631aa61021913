package cluster

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultSettledPoll and DefaultUnsettledPoll are the poll periods the tests' cluster-manager runs with.
const (
	DefaultSettledPoll   = defaultSettledPoll
	DefaultUnsettledPoll = defaultUnsettledPoll
)

// ManagedLists returns an empty list of every kind a cluster deploys, for tests that look for leftovers.
var ManagedLists = managedLists

// MetaItems returns a list's items as objects.
func MetaItems(list client.ObjectList) ([]client.Object, error) {
	objs, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("list item %T is not an object", o)
		}
		out = append(out, obj)
	}
	return out, nil
}

// SecretInformers reports the secrets whose informers are wanted, and how many informer caches are still
// running, for tests that check informers follow the references.
func (r *Reconciler) SecretInformers() (keys []types.NamespacedName, running int) {
	return r.secrets.informers()
}
