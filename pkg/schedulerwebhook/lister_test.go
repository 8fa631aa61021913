package schedulerwebhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// A claim created an instant before its pod (StatefulSets, kubectl apply of both) may not be in the cache
// yet: the lister asks the API server for it, and only then.
func TestCacheListerReadsAClaimTheCacheHasNotSeen(t *testing.T) {
	ctx := context.Background()
	claim := func(name string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name}}
	}
	cached := fake.NewClientBuilder().WithObjects(claim("old")).Build()
	live := fake.NewClientBuilder().WithObjects(claim("new")).Build()

	got, err := CacheLister{Reader: cached, Live: live}.PVC(ctx, "apps", "new")
	require.NoError(t, err)
	require.NotNil(t, got, "a claim only the API server has is found")
	assert.Equal(t, "new", got.Name)

	got, err = CacheLister{Reader: cached, Live: live}.PVC(ctx, "apps", "old")
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "old", got.Name)

	got, err = CacheLister{Reader: cached, Live: live}.PVC(ctx, "apps", "missing")
	require.NoError(t, err)
	assert.Nil(t, got, "a claim that exists nowhere is nil, not an error")

	got, err = CacheLister{Reader: cached}.PVC(ctx, "apps", "new")
	require.NoError(t, err)
	assert.Nil(t, got, "without a live reader the cache alone answers")
}

// The namespace opt-out label is read from the cached metadata of namespaces; a namespace the cache has not seen
// yet is asked of the API server, and one that exists nowhere has not opted out.
func TestCacheListerNamespaceOptOut(t *testing.T) {
	ctx := context.Background()
	namespace := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	optOut := map[string]string{NamespaceOptOutLabel: NamespaceOptOutValue}
	cached := fake.NewClientBuilder().WithObjects(namespace("quiet", optOut), namespace("apps", nil),
		namespace("other-value", map[string]string{NamespaceOptOutLabel: "enabled"})).Build()
	live := fake.NewClientBuilder().WithObjects(namespace("new-quiet", optOut)).Build()
	l := CacheLister{Reader: cached, Live: live}

	for ns, want := range map[string]bool{"quiet": true, "apps": false, "other-value": false, "new-quiet": true, "missing": false} {
		got, err := l.NamespaceOptedOut(ctx, ns)
		require.NoError(t, err, ns)
		assert.Equal(t, want, got, ns)
	}
	got, err := CacheLister{Reader: cached}.NamespaceOptedOut(ctx, "new-quiet")
	require.NoError(t, err)
	assert.False(t, got, "without a live reader the cache alone answers")
}
