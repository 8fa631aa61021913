//go:build e2e

// Package e2e runs the operator the way make demo does — real control plane, kwok nodes, the four binaries as
// processes with their production flags and service accounts, the StorageOS API simulator — and checks every
// user-facing path through the public surface (CRs, kubectl, the Kubernetes API), then the faults a
// production cluster sees: leaders killed, the upgrade-manager killed at every step, webhooks gone, the API
// server restarted, StorageOS's API down.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

var env *demo.Demo

// Every leader-elected binary runs two processes, so each fault has a standby to take over; the webhook runs
// two behind its balancer.
const replicas = 2

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	demo.QuietClientLogs()
	root, err := envtest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	clusterBins, err := envtest.AssetsDir(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stages, err := localcluster.KwokStageFiles(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	operatorBins, err := envtest.BuildBinaries(root, "e2e-binaries")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	prometheus, err := prometheusBin()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	workDir, err := os.MkdirTemp("", "storageos-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := time.Now()
	env, err = demo.Up(context.Background(), demo.Options{Root: root, ClusterBinDir: clusterBins, OperatorBinDir: operatorBins,
		KwokStages: stages, WorkDir: workDir, Replicas: replicas, Progress: os.Stderr, PrometheusBin: prometheus})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: StorageOSCluster 3/3 Running %s after start\n", time.Since(start).Round(100*time.Millisecond))
	code := m.Run()
	if err := env.Down(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the demo:", err)
		code = 1
	}
	if code == 0 {
		_ = os.RemoveAll(workDir)
	} else {
		fmt.Fprintln(os.Stderr, "e2e: logs kept in", filepath.Join(workDir, "logs"))
	}
	return code
}
