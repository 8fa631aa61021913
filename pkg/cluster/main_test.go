package cluster_test

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
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
)

const (
	apiUsername = "storageos"
	apiPassword = "never-in-logs-or-status"
)

func TestMain(m *testing.M) {
	sim = simulator.New(storageos.Credentials{Username: apiUsername, Password: apiPassword})
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
	mgr, err := env.NewManager(opts, requests.Wrap, asClusterManager)
	if err != nil {
		return nil, err
	}
	r := reconciler
	r.APIEndpoint = func(*storageosv1.StorageOSCluster) string { return sim.URL() }
	r.ResyncPeriod = 2 * time.Second
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
