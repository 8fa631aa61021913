//go:build e2e

// Package scale is make scale at a size CI can afford, as a regression guard on growth: what must not grow
// with the number of nodes and applications (the cluster's status, each manager's requests when nothing
// happens, the upgrade's reads and writes) is asserted at 150 nodes and 150 applications, beyond the 100 nodes
// where the status starts counting rather than naming them. Wall-clock times are
// make scale's to report, not asserted here.
package scale

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/scale"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

const (
	nodes = 150
	apps  = 150
	// statusLimit is what the cluster's status may take at any size (TestStatusStaysSmallAtAnySize holds it
	// up to 5,000 nodes); etcd refuses an object over 1.5 MB.
	statusLimit = 64 << 10
	// requestsPerMinute bounds each manager's requests while nothing happens, its leader election Lease apart:
	// none is needed, a few are allowed (a discovery check every few minutes).
	requestsPerMinute = 6
)

func TestWhatMustNotGrowWithTheClusterDoesNot(t *testing.T) {
	demo.QuietClientLogs()
	ctx := context.Background()
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	clusterBins, err := envtest.AssetsDir(root)
	require.NoError(t, err)
	stages, err := localcluster.KwokStageFiles(root)
	require.NoError(t, err)
	operatorBins, err := envtest.BuildBinaries(root, "scale-binaries")
	require.NoError(t, err)
	// Kept after a failure, for its logs: t.TempDir would delete it.
	workDir, err := os.MkdirTemp("", "storageos-scale-guard-") //nolint:usetesting // kept when the test fails
	require.NoError(t, err)
	d, err := demo.Up(ctx, demo.Options{Root: root, ClusterBinDir: clusterBins, OperatorBinDir: operatorBins, KwokStages: stages,
		WorkDir: workDir, Nodes: nodes, Audit: true, Progress: os.Stderr, ReadyTimeout: 10 * time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, d.Down())
		if t.Failed() {
			t.Log("logs kept in", filepath.Join(workDir, "logs"))
		} else {
			_ = os.RemoveAll(workDir)
		}
	})

	r, err := scale.Run(ctx, d, nodes, scale.Settings{Apps: apps, Settled: 30 * time.Second, Progress: os.Stderr, NoFloors: true},
		scale.Create, scale.Apps, scale.Settled, scale.Upgrade)
	require.NoError(t, err)
	r.Print(os.Stderr)

	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}, c))
	assert.LessOrEqual(t, r.ClusterStatusBytes, statusLimit, "the cluster's status at %d nodes", nodes)
	assert.Empty(t, c.Status.Nodes, "beyond %d nodes the status counts nodes rather than naming them", storageosv1.NodeListMax)
	require.NotNil(t, c.Status.NodeCounts)
	assert.Equal(t, int32(nodes), c.Status.NodeCounts.Nodes)

	for _, b := range demo.Binaries {
		settled := r.Settled[b]
		other := 0
		for kind, n := range settled.ByKind {
			if !strings.HasSuffix(kind, " leases") {
				other += n
			}
		}
		assert.Zero(t, settled.Writes, "%s wrote while settled: %v", b, settled.ByKind)
		assert.LessOrEqual(t, float64(other)/r.SettledWindow.Minutes(), float64(requestsPerMinute),
			"%s's requests per minute while settled, Lease apart: %v", b, settled.ByKind)
	}

	// The upgrade writes in proportion to what it changes (a scale down and back per application, a node pod
	// replaced per node, the cluster, the DaemonSet and its own status a few times), and what grows with the
	// cluster it reads from its cache: no list from the API server but of the few objects a look reads fresh.
	u := r.UpgradeRequests["upgrade-manager"]
	assert.LessOrEqual(t, u.Writes, 2*apps+nodes+100, "the upgrade-manager's writes: %v", u.ByKind)
	for kind, n := range u.ByKind {
		if strings.HasPrefix(kind, "list ") && kind != "list storageosclusters" && kind != "list storageosupgrades" {
			assert.Zero(t, n, "the upgrade-manager listed %s from the API server during the upgrade", strings.TrimPrefix(kind, "list "))
		}
	}
}
