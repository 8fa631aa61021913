// Package binaries builds the four manager binaries and runs each as a process against a real API server:
// probes, metrics authentication, leader election and graceful shutdown are checked from the outside,
// as a kubelet and a Prometheus would see them.
package binaries

import (
	"fmt"
	"os"
	"testing"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

var (
	testEnv *envtest.Environment
	binDir  string
)

func TestMain(m *testing.M) {
	root, err := envtest.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binDir, err = envtest.BuildBinaries(root, "test-binaries"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	envtest.Run(m, &testEnv)
}
