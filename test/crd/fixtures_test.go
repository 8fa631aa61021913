package crd

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// newCluster is the smallest valid StorageOSCluster.
func newCluster(ns, name string) *storageosv1.StorageOSCluster {
	c := &storageosv1.StorageOSCluster{}
	c.Name, c.Namespace = name, ns
	c.Spec.SecretRefName, c.Spec.SecretRefNamespace = "storageos-api", "default"
	return c
}

func newUpgrade(ns, name string, image storageosv1.ImageReference) *storageosv1.StorageOSUpgrade {
	u := &storageosv1.StorageOSUpgrade{}
	u.Name, u.Namespace = name, ns
	u.Spec.NewImage = image
	return u
}

// kubectlTable runs `kubectl get` and returns its header and rows split into cells. Cells are separated by two
// or more spaces, so an empty cell shows as a missing one.
func kubectlTable(t *testing.T, args ...string) (header []string, rows [][]string) {
	t.Helper()
	out, err := testEnv.Kubectl(context.Background(), append([]string{"get"}, args...)...)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	cells := regexp.MustCompile(`\s{2,}`)
	for i, line := range lines {
		row := cells.Split(strings.TrimSpace(line), -1)
		if i == 0 {
			header = row
		} else {
			rows = append(rows, row)
		}
	}
	return header, rows
}
