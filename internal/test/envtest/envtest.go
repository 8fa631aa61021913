// Package envtest starts a real kube-apiserver and etcd with the project's CRDs installed, for every test that
// needs an API server. Tests call it once per package, from TestMain, through Run.
package envtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/storageos/cluster-operator/pkg/manager"
)

// Environment is a running control plane with the storageos.com CRDs installed.
type Environment struct {
	// Config is an admin REST config for the API server.
	Config *rest.Config
	// Client is an uncached admin client whose scheme knows the built-in and storageos.com kinds.
	Client client.Client
	// Scheme is the scheme of Client.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of an admin kubeconfig file, for kubectl and for binaries started as processes.
	Kubeconfig string
	// AssetsDir holds the kube-apiserver, etcd and kubectl binaries.
	AssetsDir string
	// RootDir is the repository root.
	RootDir string

	env    *envtest.Environment
	tmpDir string
}

// Start starts kube-apiserver and etcd from AssetsDir and installs config/crd/bases.
func Start() (*Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets, err := AssetsDir(root)
	if err != nil {
		return nil, err
	}
	e := &Environment{RootDir: root, AssetsDir: assets, Scheme: manager.NewScheme()}
	e.env = &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                e.Scheme,
		// A loaded 2-core machine can take far longer than the 20s default to start an API server.
		ControlPlaneStartTimeout: 3 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	e.Config, err = e.env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	if err := e.finishSetup(); err != nil {
		_ = e.env.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Environment) finishSetup() error {
	var err error
	if e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme}); err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	if e.tmpDir, err = os.MkdirTemp("", "storageos-envtest-"); err != nil {
		return err
	}
	admin, err := e.env.AddUser(envtest.User{Name: "envtest-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding admin user: %w", err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("writing admin kubeconfig: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.tmpDir, "kubeconfig")
	return os.WriteFile(e.Kubeconfig, kubeconfig, 0o600)
}

// Stop stops the control plane and removes its temporary files.
func (e *Environment) Stop() error {
	err := e.env.Stop()
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
	return err
}

// Setup prepares a started environment for a package's tests (e.g. starts a controller in-process) and returns
// how to undo it.
type Setup func(*Environment) (cleanup func(), err error)

// Run is the body of a package's TestMain: it starts the environment, stores it in *env, runs the setups, the
// tests, the setups' cleanups in reverse order, stops the environment and exits with the tests' result.
func Run(m *testing.M, env **Environment, setups ...Setup) {
	os.Exit(run(m, env, setups))
}

func run(m *testing.M, env **Environment, setups []Setup) int {
	// Controllers started by setups log errors (and only errors) to stderr, which go test shows on failure.
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	*env = e
	defer func() {
		if err := e.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "envtest: stopping:", err)
		}
	}()
	for _, setup := range setups {
		cleanup, err := setup(e)
		if err != nil {
			fmt.Fprintln(os.Stderr, "envtest: setup:", err)
			return 1
		}
		defer cleanup() //nolint:gocritic // deferInLoop: deliberate, every setup is undone when TestMain returns
	}
	return m.Run()
}

// NewManager builds a manager with the binaries' shared setup (pkg/manager) against this environment. Probes are
// off, and metrics too unless o asks for them (ServeMetrics), so that several managers can run side by side in
// one test binary.
// Config mutators (e.g. a counting transport) apply to a copy of the environment's REST config.
func (e *Environment) NewManager(o manager.Options, mutators ...func(*rest.Config)) (ctrl.Manager, error) {
	if _, chosen := metricsAddrs.Load(o.MetricsBindAddress); !chosen {
		// The binaries' default is one fixed port, which two managers of a test could not both bind.
		o.MetricsBindAddress = "0"
	}
	o.HealthProbeBindAddress = "0"
	cfg := rest.CopyConfig(e.Config)
	for _, mutate := range mutators {
		mutate(cfg)
	}
	return manager.New(cfg, o)
}

// StartManager runs mgr until the returned stop is called, which waits for it to end and reports on stderr
// (the test binary's TestMain has no testing.T) how it ended if not cleanly. cancel ends ctx, the context the
// controllers were set up with.
func StartManager(ctx context.Context, cancel context.CancelFunc, mgr ctrl.Manager, name string) (stop func()) {
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, name, "stopped with:", err)
		}
	}
}

// Kubectl runs the kubectl built with the control plane against this environment and returns its output.
func (e *Environment) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.AssetsDir, "kubectl"), append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// CreateNamespace creates a namespace with a unique name for one test and deletes it when the test ends.
func (e *Environment) CreateNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}
