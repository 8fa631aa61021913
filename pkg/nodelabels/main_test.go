//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

package nodelabels_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/nodelabels"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
)

var (
	testEnv *envtest.Environment
	sim     *simulator.Simulator
	// requests counts what the controller's manager sends to the API server.
	requests envtest.RequestCounter
	// cached reads through the controller's cache: what the controller sees.
	cached client.Reader
	// running is the one StorageOSCluster, in phase Running as the cluster-manager would have set it; the
	// cluster-manager's own controller does not run here.
	running *storageosv1.StorageOSCluster
)

var creds = storageos.Credentials{Username: "storageos", Password: "never-in-events"}

func TestMain(m *testing.M) {
	sim = simulator.New(creds)
	envtest.Run(m, &testEnv, createRunningCluster, startNodeLabels)
	sim.Close()
}

// createRunningCluster creates the API secret and a StorageOSCluster whose status says it runs.
func createRunningCluster(env *envtest.Environment) (func(), error) {
	ctx := context.Background()
	const ns = "storageos-cluster"
	running = &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Name: "storageos", Namespace: ns},
		Spec: storageosv1.StorageOSClusterSpec{SecretRefName: "storageos-api", SecretRefNamespace: ns, Namespace: "storageos"}}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "storageos-api", Namespace: ns}, Data: map[string][]byte{
			storageos.SecretUsernameKey: []byte(creds.Username), storageos.SecretPasswordKey: []byte(creds.Password)}},
		running,
	}
	for _, obj := range objs {
		if err := env.Client.Create(ctx, obj); err != nil {
			return nil, err
		}
	}
	running.Status.Phase = storageosv1.ClusterPhaseRunning
	return func() {}, env.Client.Status().Update(ctx, running)
}

// startNodeLabels runs the node label sync in-process as the cluster-manager does: its ServiceAccount's
// generated role, its cache options, and the simulator as the StorageOS API.
func startNodeLabels(env *envtest.Environment) (func(), error) {
	ctx := context.Background()
	asClusterManager, err := env.AsBinary(ctx, "cluster-manager")
	if err != nil {
		return nil, err
	}
	opts := manager.NewOptions("cluster-manager", "")
	opts.Cache = cluster.CacheOptions()
	mgr, err := env.NewManager(opts, requests.Wrap, asClusterManager)
	if err != nil {
		return nil, err
	}
	cached = mgr.GetClient()
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(ctx, ctrl.Log))
	r := &nodelabels.Reconciler{API: storageos.Access{Endpoint: storageos.FixedEndpoint(sim.URL())}}
	if err := nodelabels.Setup(ctx, mgr, r); err != nil {
		cancel()
		return nil, err
	}
	return envtest.StartManager(ctx, cancel, mgr, "node label sync"), nil
}
