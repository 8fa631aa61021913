package crd

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// columns splits a kubectl table line into its cells.
func columns(line string) []string {
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
}

// kubectl get storageoscluster must print what the seed README shows:
//
//	NAME                       READY     STATUS    AGE
//	example-storageoscluster   3/3       Running   4m
func TestKubectlGetStorageOSClusterPrintsTheSeedColumns(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	c := &storageosv1.StorageOSCluster{}
	c.Name, c.Namespace = "example-storageoscluster", ns
	c.Spec.SecretRefName, c.Spec.SecretRefNamespace = "storageos-api", "default"
	require.NoError(t, testEnv.Client.Create(ctx, c))
	c.Status.Ready, c.Status.Phase = "3/3", storageosv1.ClusterPhaseRunning
	require.NoError(t, testEnv.Client.Status().Update(ctx, c))

	for _, resource := range []string{"storageoscluster", "stos", "storageosclusters.storageos.com"} {
		out, err := testEnv.Kubectl(ctx, "get", resource, "-n", ns)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 2, out)
		assert.Equal(t, []string{"NAME", "READY", "STATUS", "AGE"}, columns(lines[0]), "kubectl get %s", resource)
		row := columns(lines[1])
		require.Len(t, row, 4, out)
		assert.Equal(t, []string{"example-storageoscluster", "3/3", "Running"}, row[:3])
		assert.Regexp(t, `^\d+s$`, row[3])
	}
}

func TestKubectlGetJobShowsCompletion(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	j := &storageosv1.Job{}
	j.Name, j.Namespace = "cleanup-job", ns
	j.Spec = storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", HostPath: "/var/lib", MountPath: "/var/lib", CompletionWord: "done"}
	require.NoError(t, testEnv.Client.Create(ctx, j))
	j.Status = storageosv1.JobStatus{Completed: true, NodesCompleted: 3, NodesTotal: 3}
	require.NoError(t, testEnv.Client.Status().Update(ctx, j))

	out, err := testEnv.Kubectl(ctx, "get", "jobs.storageos.com", "-n", ns)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Equal(t, []string{"NAME", "COMPLETED", "DONE", "NODES", "AGE"}, columns(lines[0]))
	assert.Equal(t, []string{"cleanup-job", "true", "3", "3"}, columns(lines[1])[:4])

	out, err = testEnv.Kubectl(ctx, "get", "jobs.storageos.com", "-n", ns, "-o", "wide")
	require.NoError(t, err)
	assert.Contains(t, strings.Split(out, "\n")[0], "IMAGE")
	assert.Contains(t, out, "darkowlzz/cleanup:v0.0.2")
}

func TestKubectlGetStorageOSUpgradeShowsProgress(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	u := &storageosv1.StorageOSUpgrade{}
	u.Name, u.Namespace = "example-storageosupgrade", ns
	u.Spec.NewImage = "storageos/node:1.0.0"
	require.NoError(t, testEnv.Client.Create(ctx, u))
	u.Status.Phase = storageosv1.UpgradePhaseScalingDown
	require.NoError(t, testEnv.Client.Status().Update(ctx, u))

	out, err := testEnv.Kubectl(ctx, "get", "storageosupgrades", "-n", ns)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	assert.Equal(t, []string{"NAME", "IMAGE", "STATUS", "COMPLETED", "AGE"}, columns(lines[0]))
	assert.Equal(t, []string{"example-storageosupgrade", "storageos/node:1.0.0", "ScalingDown", "false"}, columns(lines[1])[:4])
}
