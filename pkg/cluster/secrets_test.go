//go:build !mutation

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// An informer runs only for a secret some cluster references: a typo'd reference stops being watched once it is
// fixed, and the cluster's deletion stops the rest, so no watch outlives its reference.
func TestSecretInformersFollowReferences(t *testing.T) {
	typo := types.NamespacedName{Namespace: secretNS, Name: "storageos-api-typo"}
	fixed := types.NamespacedName{Namespace: secretNS, Name: "storageos-api"}
	// Clusters of earlier tests are gone, their informers with them.
	requireInformers(t, nil, "before the test")

	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.SecretRefName = storageosv1.ObjectName(typo.Name) })
	requireInformers(t, []types.NamespacedName{typo}, "with the typo'd reference")

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.SecretRefName = storageosv1.ObjectName(fixed.Name) })
	requireInformers(t, []types.NamespacedName{fixed}, "after the reference was fixed")

	deleteAndWait(t, c)
	requireInformers(t, nil, "after the cluster was deleted")
}

// requireInformers waits until exactly the informers of want are wanted and running.
func requireInformers(t *testing.T, want []types.NamespacedName, when string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		keys, running := reconciler.SecretInformers()
		assert.ElementsMatch(c, want, keys, "%s: wanted informers", when)
		assert.Equal(c, len(want), running, "%s: running informers", when)
	}, timeout, tick)
}
