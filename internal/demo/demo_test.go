package demo_test

import (
	"context"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// A demo that cannot start says what to do, and a step that times out stops everything it started.
func TestFailedStartsSayWhatToDoAndLeaveNothingRunning(t *testing.T) {
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	clusterBins, err := envtest.AssetsDir(root)
	require.NoError(t, err)

	_, err = demo.Up(context.Background(), demo.Options{Root: root, ClusterBinDir: clusterBins, OperatorBinDir: t.TempDir(),
		WorkDir: t.TempDir()})
	require.ErrorContains(t, err, "cluster-manager is missing")
	require.ErrorContains(t, err, "run make build")

	operatorBins, err := envtest.BuildBinaries(root, "demo-test-binaries")
	require.NoError(t, err)
	stages, err := localcluster.KwokStageFiles(root)
	require.NoError(t, err)
	workDir := t.TempDir()
	var mu sync.Mutex
	var pids []int
	_, err = demo.Up(context.Background(), demo.Options{Root: root, ClusterBinDir: clusterBins, OperatorBinDir: operatorBins,
		KwokStages: stages, WorkDir: workDir, ReadyTimeout: time.Millisecond, Started: func(_ string, pid int) {
			mu.Lock()
			defer mu.Unlock()
			pids = append(pids, pid)
		}})
	require.ErrorContains(t, err, "timed out after 1ms waiting for kubectl get storageoscluster to show 3/3 Running")
	require.ErrorContains(t, err, filepath.Join(workDir, "logs"), "the error names the logs")
	mu.Lock()
	defer mu.Unlock()
	require.GreaterOrEqual(t, len(pids), 9, "control plane, kwok and four binaries were started")
	for _, pid := range pids {
		require.Error(t, syscall.Kill(pid, 0), "process %d still running", pid)
	}
}
