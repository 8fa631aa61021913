package crd

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// kubectl get storageoscluster must print what the seed README shows:
//
//	NAME                       READY     STATUS    AGE
//	example-storageoscluster   3/3       Running   4m
func TestKubectlGetStorageOSClusterPrintsTheSeedColumns(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	c := newCluster(ns, "example-storageoscluster")
	require.NoError(t, testEnv.Client.Create(ctx, c))
	c.Status.Ready, c.Status.Phase = "3/3", storageosv1.ClusterPhaseRunning
	require.NoError(t, testEnv.Client.Status().Update(ctx, c))

	for _, resource := range []string{"storageoscluster", "stos", "storageosclusters.storageos.com"} {
		header, rows := kubectlTable(t, resource, "-n", ns)
		assert.Equal(t, []string{"NAME", "READY", "STATUS", "AGE"}, header, "kubectl get %s", resource)
		require.Len(t, rows, 1)
		require.Len(t, rows[0], 4)
		assert.Equal(t, []string{"example-storageoscluster", "3/3", "Running"}, rows[0][:3])
		assert.Regexp(t, `^\d+s$`, rows[0][3])
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

	header, rows := kubectlTable(t, "jobs.storageos.com", "-n", ns)
	assert.Equal(t, []string{"NAME", "COMPLETED", "DONE", "NODES", "AGE"}, header)
	require.Len(t, rows, 1)
	assert.Equal(t, []string{"cleanup-job", "true", "3", "3"}, rows[0][:4])

	header, rows = kubectlTable(t, "jobs.storageos.com", "-n", ns, "-o", "wide")
	assert.Equal(t, []string{"NAME", "COMPLETED", "DONE", "NODES", "IMAGE", "AGE"}, header)
	require.Len(t, rows, 1)
	assert.Equal(t, "darkowlzz/cleanup:v0.0.2", rows[0][4])
}

func TestKubectlGetStorageOSUpgradeShowsProgress(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	u := newUpgrade(ns, "example-storageosupgrade", "storageos/node:1.0.0")
	require.NoError(t, testEnv.Client.Create(ctx, u))
	// Only the phase is written, as a patch: the schema's defaults make the progress columns read 0/0, not blank.
	require.NoError(t, testEnv.Client.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType,
		[]byte(`{"status":{"phase":"Pending","phaseStartTime":"`+time.Now().UTC().Format(time.RFC3339)+`"}}`))))
	header, rows := kubectlTable(t, "storageosupgrades", "-n", ns)
	assert.Equal(t, []string{"NAME", "IMAGE", "STATUS", "SINCE", "APPS DOWN", "NODES UPGRADED", "UNSTOPPABLE", "COMPLETED", "AGE"}, header)
	require.Len(t, rows, 1)
	require.Len(t, rows[0], len(header))
	assert.Equal(t, []string{"example-storageosupgrade", "storageos/node:1.0.0", "Pending"}, rows[0][:3])
	assert.Equal(t, []string{"0/0", "0/0", "0", "false"}, rows[0][4:8])

	u.Status.Phase, u.Status.PhaseStartTime = storageosv1.UpgradePhaseScalingDown, &metav1.Time{Time: time.Now()}
	u.Status.Progress = storageosv1.UpgradeProgress{StartTime: &metav1.Time{Time: time.Now()}, Applications: 200,
		ApplicationsScaledDown: 120, Nodes: 100, ApplicationsSummary: "120/200", NodesSummary: "0/100",
		Message: "applications scaled down 120/200"}
	u.Status.Plan.Summary = storageosv1.PlanSummary{Applications: 200, UnstoppablePods: 2, Nodes: 100}
	require.NoError(t, testEnv.Client.Status().Update(ctx, u))
	header, rows = kubectlTable(t, "storageosupgrades", "-n", ns)
	assert.Equal(t, []string{"NAME", "IMAGE", "STATUS", "SINCE", "APPS DOWN", "NODES UPGRADED", "UNSTOPPABLE", "COMPLETED", "AGE"}, header)
	require.Len(t, rows, 1)
	require.Len(t, rows[0], len(header))
	assert.Equal(t, []string{"example-storageosupgrade", "storageos/node:1.0.0", "ScalingDown"}, rows[0][:3])
	assert.Regexp(t, `^\d+s$`, rows[0][3], "time in the step")
	assert.Equal(t, []string{"120/200", "0/100", "2", "false"}, rows[0][4:8])

	header, rows = kubectlTable(t, "storageosupgrades", "-n", ns, "-o", "wide")
	assert.Equal(t, []string{"NAME", "IMAGE", "STATUS", "SINCE", "APPS DOWN", "NODES UPGRADED", "UNSTOPPABLE", "COMPLETED", "PROGRESS", "STARTED", "AGE"}, header)
	require.Len(t, rows, 1)
	assert.Equal(t, "applications scaled down 120/200", rows[0][8])
}

// kubectl get nfsserver prints the original operator's columns.
func TestKubectlGetNFSServerPrintsTheOriginalColumns(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	nfs := &storageosv1.NFSServer{}
	nfs.Name, nfs.Namespace = "example-nfsserver", ns
	nfs.Spec.StorageClassName = "fast"
	nfs.Spec.Resources.Requests = map[corev1.ResourceName]storageosv1.Quantity{corev1.ResourceStorage: {Quantity: resource.MustParse("1Gi")}}
	require.NoError(t, testEnv.Client.Create(ctx, nfs))
	nfs.Status = storageosv1.NFSServerStatus{Phase: storageosv1.NFSServerPhaseRunning, RemoteTarget: "10.96.0.12:2049", AccessModes: "RW"}
	require.NoError(t, testEnv.Client.Status().Update(ctx, nfs))

	for _, resource := range []string{"nfsserver", "nfsservers.storageos.com"} {
		header, rows := kubectlTable(t, resource, "-n", ns)
		assert.Equal(t, []string{"NAME", "STATUS", "CAPACITY", "TARGET", "ACCESS MODES", "STORAGECLASS", "AGE"}, header, "kubectl get %s", resource)
		require.Len(t, rows, 1)
		assert.Equal(t, []string{"example-nfsserver", "Running", "1Gi", "10.96.0.12:2049", "RW", "fast"}, rows[0][:6])
	}
}
