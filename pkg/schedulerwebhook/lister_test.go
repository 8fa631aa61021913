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
