package crd

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/discovery"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// The tests run against the kube-apiserver built by hack/k8stools, at the version it pins, from the directory
// `make envtest-path` names.
func TestTheControlPlaneIsTheOneBuiltFromGoModules(t *testing.T) {
	version, err := envtest.KubernetesVersion(testEnv.RootDir)
	require.NoError(t, err)

	dc, err := discovery.NewDiscoveryClientForConfig(testEnv.Config)
	require.NoError(t, err)
	info, err := dc.ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v"+version, info.GitVersion)

	cmd := exec.Command("make", "-s", "--no-print-directory", "envtest-path")
	cmd.Dir = testEnv.RootDir
	out, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, testEnv.AssetsDir, strings.TrimSpace(string(out)))
	assert.True(t, strings.HasSuffix(testEnv.AssetsDir, "/bin/k8s/"+version), testEnv.AssetsDir)
}
