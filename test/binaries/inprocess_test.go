package binaries

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

// Tests that run controllers in-process use the same manager setup as the binaries.
func TestSharedManagerSetupRunsInProcess(t *testing.T) {
	mgr, err := testEnv.NewManager(manager.NewOptions("in-process", ""))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()

	require.True(t, mgr.GetCache().WaitForCacheSync(ctx))
	var clusters storageosv1.StorageOSClusterList
	assert.NoError(t, mgr.GetClient().List(ctx, &clusters), "the manager's scheme and cache know the storageos.com kinds")

	cancel()
	assert.NoError(t, <-done, "the manager stops cleanly when its context ends")
}
