//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

package upgrade_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

var (
	managerCount atomic.Int32
	testEnv      *envtest.Environment
	sim          *simulator.Simulator
	requests     envtest.RequestCounter
)

const (
	apiUsername = "storageos"
	apiPassword = "upgrade-test-password"

	timeout = 90 * time.Second
	tick    = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	sim = simulator.New(storageos.Credentials{Username: apiUsername, Password: apiPassword})
	envtest.Run(m, &testEnv)
}

// managerOptions tune a running upgrade-manager in a test.
type managerOptions struct {
	stepTimeout time.Duration
	// leaseNamespace turns leader election on, with short timings, in that namespace.
	leaseNamespace string
	// wrap, when set, is installed on the manager's REST config beside the request counter.
	wrap func(*rest.Config)
	// maxPollInterval bounds the backoff of a waiting step (default: a second, to keep tests quick).
	maxPollInterval time.Duration
	// metrics serves the manager's metrics as the binary does (HTTPS, authn/authz) at runningManager.metricsAddr.
	metrics bool
}

// runningManager is an upgrade-manager started by a test.
type runningManager struct {
	mgr    ctrl.Manager
	cancel context.CancelFunc
	// done is closed once the manager has stopped, with its error in err.
	done chan struct{}
	err  error
	// metricsAddr is where it serves its metrics, with managerOptions.metrics.
	metricsAddr string
}

// stop stops the manager and waits until it has.
func (m *runningManager) stop(t testing.TB) {
	t.Helper()
	m.cancel()
	select {
	case <-m.done:
		require.NoError(t, m.err)
	case <-time.After(timeout):
		t.Fatal("the upgrade-manager did not stop")
	}
}

// startManager runs an upgrade-manager in-process, as its ServiceAccount bound to the generated role, against
// the simulator, until stopped or the test ends.
func startManager(t testing.TB, o managerOptions) *runningManager {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	asUpgrader, err := testEnv.AsBinary(ctx, "upgrade-manager")
	require.NoError(t, err)
	opts := manager.NewOptions("upgrade-manager", "upgrade-manager.storageos.com")
	opts.Cache = upgrade.CacheOptions()
	if o.leaseNamespace != "" {
		opts.LeaderElect = true
		opts.LeaderElectionNamespace = o.leaseNamespace
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 3*time.Second, 2*time.Second, 250*time.Millisecond
	}
	var metricsAddr string
	if o.metrics {
		metricsAddr, err = envtest.ServeMetrics(&opts)
		require.NoError(t, err)
	}
	mutators := []func(*rest.Config){requests.Wrap, asUpgrader}
	if o.wrap != nil {
		mutators = append(mutators, o.wrap)
	}
	mgr, err := testEnv.NewManager(opts, mutators...)
	require.NoError(t, err)
	if o.stepTimeout == 0 {
		o.stepTimeout = timeout
	}
	if o.maxPollInterval == 0 {
		o.maxPollInterval = time.Second
	}
	r := &upgrade.Reconciler{
		API:             storageos.Access{Endpoint: storageos.FixedEndpoint(sim.URL())},
		StepTimeout:     o.stepTimeout,
		PollInterval:    100 * time.Millisecond,
		MaxPollInterval: o.maxPollInterval,
		// Controller names must be unique per process; each manager of a test gets its own.
		ControllerName: fmt.Sprintf("storageosupgrade-%d", managerCount.Add(1)),
	}
	require.NoError(t, upgrade.Setup(ctx, mgr, r))
	m := &runningManager{mgr: mgr, cancel: cancel, done: make(chan struct{}), metricsAddr: metricsAddr}
	go func() {
		defer close(m.done)
		m.err = mgr.Start(ctrl.LoggerInto(ctx, ctrl.Log))
	}()
	t.Cleanup(func() {
		cancel()
		<-m.done
	})
	return m
}
