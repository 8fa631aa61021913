package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// make demo and make demo-down as a user runs them: the demo comes up and keeps running, a second one is
// refused with what to do, and demo-down stops it and everything it started.
func TestDemoUpRefuseSecondAndDown(t *testing.T) {
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	clusterBins, err := envtest.AssetsDir(root)
	require.NoError(t, err)
	bins, err := envtest.BuildBinaries(root, "demo-driver-test")
	require.NoError(t, err)
	build := exec.Command("go", "build", "-o", filepath.Join(bins, "demo"), "./hack/demo")
	build.Dir = root
	built, err := build.CombinedOutput()
	require.NoError(t, err, "%s", built)
	workDir := filepath.Join(t.TempDir(), "demo")
	driver := func(args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bins, "demo"), append([]string{"-root", root, "-workdir", workDir,
			"-cluster-bins", clusterBins, "-operator-bins", bins}, args...)...)
		cmd.Dir = root
		return cmd
	}

	up := driver()
	stdout, err := up.StdoutPipe()
	require.NoError(t, err)
	up.Stderr = up.Stdout
	require.NoError(t, up.Start())
	t.Cleanup(func() { _ = up.Process.Kill(); _ = up.Wait() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	var output []string
	deadline := time.After(5 * time.Minute)
	for running := false; !running; {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "the demo ended before it was Running:\n%s", strings.Join(output, "\n"))
			output = append(output, line)
			running = strings.HasPrefix(line, "StorageOS is Running on 3 simulated nodes")
		case <-deadline:
			t.Fatalf("not Running after 5 minutes:\n%s", strings.Join(output, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()
	require.Regexp(t, `example-storageoscluster\s+3/3\s+Running`, strings.Join(output, "\n"))
	pids := readPids(t, filepath.Join(workDir, "pids"))
	require.GreaterOrEqual(t, len(pids), 9)

	second, err := driver().CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(second), "a demo is already running from "+workDir)
	require.Contains(t, string(second), "run make demo-down first")

	down, err := driver("-down").CombinedOutput()
	require.NoError(t, err, "%s", down)
	require.Contains(t, string(down), "demo: stopped")
	require.NoError(t, up.Wait(), "the demo exits 0 after demo-down")
	for _, pid := range pids {
		require.Error(t, syscall.Kill(pid, 0), "process %d still running", pid)
	}
}

func readPids(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var pids []int
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pid, err := strconv.Atoi(strings.Fields(line)[0])
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}

func TestOnlyEmptyOrDemoDirectoriesAreCleared(t *testing.T) {
	for name, tc := range map[string]struct {
		files   []string
		refused bool
	}{
		"missing":         {},
		"empty":           {files: []string{}},
		"an earlier demo": {files: []string{marker, "kubeconfig"}},
		"anything else":   {files: []string{"go.mod"}, refused: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "work")
			if tc.files != nil {
				require.NoError(t, os.Mkdir(dir, 0o755))
			}
			for _, f := range tc.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
			}
			err := checkWorkDir(dir)
			if tc.refused {
				require.ErrorContains(t, err, "is not a demo's work directory: choose another -workdir")
				return
			}
			require.NoError(t, err)
		})
	}
}
