// Package binaries builds the four manager binaries and runs each as a process against a real API server:
// probes, metrics authentication, leader election and graceful shutdown are checked from the outside,
// as a kubelet and a Prometheus would see them.
package binaries

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	// Build into the git-ignored bin/ so repeated runs reuse the directory instead of leaking temp dirs.
	binDir = filepath.Join(root, "bin", "test-binaries")
	build := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./cmd/...")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		os.Exit(1)
	}
	envtest.Run(m, &testEnv)
}
