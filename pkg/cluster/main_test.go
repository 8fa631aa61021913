//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

package cluster_test

import (
	"context"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
)

var (
	testEnv *envtest.Environment
	sim     *simulator.Simulator
	// reconciler is the running controller, and requests counts what its manager sends to the API server.
	reconciler = &cluster.Reconciler{}
	requests   envtest.RequestCounter
	// operatorEnv is the cluster-manager's environment as tests set it (RELATED_IMAGE_* overrides).
	operatorEnv sync.Map
	// secretNS holds the API secret every test cluster references.
	secretNS = "storageos-secrets"
	// metricsAddr is where the cluster-manager serves its metrics, over HTTPS behind authn/authz as in a pod.
	metricsAddr string
)

const (
	apiUsername = "storageos"
	apiPassword = "never-in-logs-or-status"
)

func TestMain(m *testing.M) {
	// Over HTTPS, verified against the simulator's CA given as --storageos-api-ca-file would be: every API call
	// of this package's tests proves the verified TLS path.
	sim = simulator.NewTLS(storageos.Credentials{Username: apiUsername, Password: apiPassword})
	envtest.Run(m, &testEnv, startClusterManager)
	sim.Close()
}

// startClusterManager runs the cluster-manager's controller in-process, against the simulator.
func startClusterManager(env *envtest.Environment) (func(), error) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secretNS}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "storageos-api", Namespace: secretNS}, Data: map[string][]byte{
		"apiUsername": []byte(apiUsername), "apiPassword": []byte(apiPassword),
		"csiProvisionUsername": []byte("prov"), "csiProvisionPassword": []byte("prov-secret"),
		"csiControllerPublishUsername": []byte("pub"), "csiControllerPublishPassword": []byte("pub-secret"),
		"csiNodePublishUsername": []byte("node"), "csiNodePublishPassword": []byte("node-secret"),
		"csiControllerExpandUsername": []byte("exp"), "csiControllerExpandPassword": []byte("exp-secret"),
		"tls.crt": []byte("CERTIFICATE"), "tls.key": []byte("PRIVATE KEY"),
	}}
	for _, obj := range []client.Object{ns, secret} {
		if err := env.Client.Create(ctx, obj); err != nil {
			return nil, err
		}
	}

	asClusterManager, err := env.AsBinary(ctx, "cluster-manager")
	if err != nil {
		return nil, err
	}
	opts := manager.NewOptions("cluster-manager", "")
	opts.Cache = cluster.CacheOptions()
	if metricsAddr, err = envtest.ServeMetrics(&opts); err != nil {
		return nil, err
	}
	mgr, err := env.NewManager(opts, requests.Wrap, asClusterManager)
	if err != nil {
		return nil, err
	}
	r := reconciler
	caFile, err := os.CreateTemp("", "storageos-api-ca-*.pem")
	if err != nil {
		return nil, err
	}
	defer os.Remove(caFile.Name()) // read once, by Setup
	if _, err := caFile.Write(sim.CAPEM()); err != nil {
		return nil, err
	}
	if err := caFile.Close(); err != nil {
		return nil, err
	}
	r.API = storageos.Access{Endpoint: storageos.FixedEndpoint(sim.URL()), CAFile: caFile.Name()}
	// The poll periods are the production defaults: these tests prove how fast status follows the API.
	r.Getenv = func(name string) string {
		v, _ := operatorEnv.Load(name)
		s, _ := v.(string)
		return s
	}
	ctx, cancel := context.WithCancel(ctrl.LoggerInto(ctx, ctrl.Log))
	if err := cluster.Setup(ctx, mgr, r); err != nil {
		cancel()
		return nil, err
	}
	return envtest.StartManager(ctx, cancel, mgr, "cluster-manager"), nil
}
