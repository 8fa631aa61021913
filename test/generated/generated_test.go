// Package generated checks that the committed generated files (deepcopy, CRDs, RBAC) are what
// `make generate manifests` produces, so CI fails when someone changes a marker and forgets to regenerate.
package generated

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// generatedTrees hold every file `make generate manifests` writes.
var generatedTrees = []string{"apis", "config"}

func TestGeneratedFilesAreCurrentAndIdempotent(t *testing.T) {
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	controllerGen := os.Getenv("CONTROLLER_GEN")
	if controllerGen == "" {
		controllerGen = filepath.Join(root, "bin", "controller-gen-v0.23.0")
	}
	_, err = os.Stat(controllerGen)
	require.NoError(t, err, "controller-gen is missing: run `make controller-gen` (make test does)")

	// Generate in a copy, so the check never rewrites the working tree it is judging.
	work := t.TempDir()
	require.NoError(t, copyTree(root, work))
	for run := 1; run <= 2; run++ {
		cmd := exec.Command("make", "--no-print-directory", "generate", "manifests", "CONTROLLER_GEN="+controllerGen)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "make generate manifests (run %d):\n%s", run, out)
		for _, tree := range generatedTrees {
			assertSameTree(t, filepath.Join(root, tree), filepath.Join(work, tree),
				fmt.Sprintf("run %d of `make generate manifests` changed %s: run it and commit the result", run, tree))
		}
	}
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() && (rel == ".git" || rel == "bin") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

// assertSameTree asserts that two directories hold the same files with the same contents.
func assertSameTree(t *testing.T, want, got, hint string) {
	t.Helper()
	wantFiles, gotFiles := readTree(t, want), readTree(t, got)
	for name, content := range wantFiles {
		other, ok := gotFiles[name]
		if assert.True(t, ok, "%s is no longer generated; %s", name, hint) {
			assert.Equal(t, content, other, "%s differs; %s", name, hint)
		}
	}
	for name := range gotFiles {
		_, ok := wantFiles[name]
		assert.True(t, ok, "%s is generated but not committed; %s", name, hint)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = string(data)
		return nil
	}))
	return files
}
