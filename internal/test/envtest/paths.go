package envtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const modulePath = "github.com/storageos/cluster-operator"

// RepoRoot finds the repository root by walking up from the working directory (a test's package directory)
// to the go.mod of this module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("envtest: no go.mod of " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

// AssetsDir is where kube-apiserver, etcd and kubectl are: $KUBEBUILDER_ASSETS when set (make test sets it),
// otherwise bin/k8s/<version>/ as hack/k8stools/build.sh lays it out.
func AssetsDir(root string) (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		version, err := KubernetesVersion(root)
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", "k8s", version)
	}
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("envtest: %s is missing from %s: run `make envtest-bins` (or `make test`, which builds it)", bin, dir)
		}
	}
	return dir, nil
}

// KubernetesVersion is the k8s.io/kubernetes version hack/k8stools builds, without its leading v.
func KubernetesVersion(root string) (string, error) {
	goMod := filepath.Join(root, "hack", "k8stools", "go.mod")
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" {
			return strings.TrimPrefix(fields[1], "v"), nil
		}
	}
	return "", fmt.Errorf("envtest: no k8s.io/kubernetes requirement in %s", goMod)
}

// BuildBinaries builds the four binaries (./cmd/...) into bin/<name>/ of the repository, git-ignored, so
// repeated runs reuse the directory; Go's build cache keeps it quick. It returns the directory.
func BuildBinaries(root, name string) (string, error) {
	dir := filepath.Join(root, "bin", name)
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the binaries: %w: %s", err, out)
	}
	return dir, nil
}
