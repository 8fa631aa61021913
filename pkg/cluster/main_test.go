package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

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

	user, err := runAsGeneratedRole(ctx, env)
	if err != nil {
		return nil, err
	}
	opts := manager.NewOptions("cluster-manager", "")
	opts.Cache = cluster.CacheOptions()
	mgr, err := env.NewManager(opts, requests.Wrap, func(cfg *rest.Config) { cfg.Impersonate = user })
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
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "cluster-manager stopped with:", err)
		}
	}, nil
}

// runAsGeneratedRole makes the controller run with exactly the ClusterRole generated from its RBAC markers
// (config/rbac/cluster-manager/role.yaml), bound to a ServiceAccount it impersonates, so every test also proves
// that role is enough.
func runAsGeneratedRole(ctx context.Context, env *envtest.Environment) (rest.ImpersonationConfig, error) {
	const ns, name = "storageos-operator", "storageos-cluster-manager"
	data, err := os.ReadFile(filepath.Join(env.RootDir, "config", "rbac", "cluster-manager", "role.yaml"))
	if err != nil {
		return rest.ImpersonationConfig{}, err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(data, role); err != nil {
		return rest.ImpersonationConfig{}, err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		role, binding,
	} {
		if err := env.Client.Create(ctx, obj); err != nil {
			return rest.ImpersonationConfig{}, err
		}
	}
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}, nil
}
