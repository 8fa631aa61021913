package binaries

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
)

// A cluster-manager running outside the cluster reaches the StorageOS API at --storageos-api-endpoint
// instead of the Service's in-cluster DNS name. Its environment pins the node image (RELATED_IMAGE_*, as OLM
// sets it for disconnected installs): a spec that names no image runs that one, and status.images says so.
func TestClusterManagerReachesTheAPIAtTheGivenEndpoint(t *testing.T) {
	const pinned = "mirror.example.com/storageos/node:v2.1.0"
	t.Setenv("RELATED_IMAGE_STORAGEOS_NODE", pinned) // inherited by the binary
	ctx := context.Background()
	creds := storageos.Credentials{Username: "storageos", Password: "endpoint-test"}
	sim := simulator.New(creds)
	t.Cleanup(sim.Close)
	sim.SetNodes(storageos.Node{Name: "node-a", Health: "online"})

	ns := testEnv.CreateNamespace(t)
	require.NoError(t, testEnv.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
		Data: map[string][]byte{"apiUsername": []byte(creds.Username), "apiPassword": []byte(creds.Password)}}))
	c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: ns}, Spec: storageosv1.StorageOSClusterSpec{
		SecretRefName: "api", SecretRefNamespace: storageosv1.NamespaceName(ns), Namespace: storageosv1.NamespaceName(fmt.Sprintf("%s-storageos", ns))}}
	require.NoError(t, testEnv.Client.Create(ctx, c))

	p := startBinary(t, "cluster-manager", "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0",
		"--storageos-api-endpoint="+sim.URL())
	// Play the DaemonSet controller: one node pod is ready, so the manager asks the API.
	ds := &appsv1.DaemonSet{}
	waitFor(t, startDeadline, "the node DaemonSet, marked ready", func() bool {
		if testEnv.Client.Get(ctx, client.ObjectKey{Namespace: string(c.Spec.Namespace), Name: names.DaemonSet}, ds) != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1,
			UpdatedNumberScheduled: 1, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	})
	waitFor(t, startDeadline, "APIReady from the simulator's answer", func() bool {
		got := &storageosv1.StorageOSCluster{}
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), got) == nil &&
			meta.IsStatusConditionTrue(got.Status.Conditions, cluster.ConditionAPIReady)
	})
	assert.Positive(t, sim.Requests("GET /v2/nodes"), "the manager asked the simulator")
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds))
	assert.Equal(t, pinned, ds.Spec.Template.Spec.Containers[0].Image, "RELATED_IMAGE_STORAGEOS_NODE wins over the built-in default")
	waitFor(t, startDeadline, "status.images to show the pinned image", func() bool {
		got := &storageosv1.StorageOSCluster{}
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), got) == nil && string(got.Status.Images.NodeContainer) == pinned
	})

	// Deleted while the manager runs, so its finalizer is removed and no cluster is left for other tests.
	require.NoError(t, testEnv.Client.Delete(ctx, c))
	waitFor(t, startDeadline, "the cluster to be deleted", func() bool {
		return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), &storageosv1.StorageOSCluster{}))
	})
	assert.Equal(t, 0, p.stop(t))
}
