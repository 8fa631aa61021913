package manager

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaults(t *testing.T) {
	o := NewOptions("cluster-manager", "cluster-manager.storageos.com")
	assert.Equal(t, ":8443", o.MetricsBindAddress)
	assert.True(t, o.SecureMetrics, "metrics are served over HTTPS behind authn/authz by default")
	assert.Equal(t, ":8081", o.HealthProbeBindAddress)
	assert.False(t, o.LeaderElect)
	assert.False(t, o.EnableHTTP2)
	assert.Empty(t, o.MetricsCertDir, "a self-signed metrics certificate unless --metrics-cert-path")
	assert.False(t, o.Zap.Development, "logs are JSON unless --zap-devel")
}

func TestFlags(t *testing.T) {
	cases := []struct {
		name  string
		id    string
		args  []string
		check func(t *testing.T, o Options)
	}{
		{"metrics and probes", "x.storageos.com", []string{"--metrics-bind-address=0", "--health-probe-bind-address=:9090", "--metrics-secure=false"},
			func(t *testing.T, o Options) {
				assert.Equal(t, "0", o.MetricsBindAddress)
				assert.Equal(t, ":9090", o.HealthProbeBindAddress)
				assert.False(t, o.SecureMetrics)
			}},
		{"leader election", "x.storageos.com", []string{"--leader-elect", "--leader-election-namespace=ops", "--leader-elect-lease-duration=60s",
			"--leader-elect-renew-deadline=40s", "--leader-elect-retry-period=5s"},
			func(t *testing.T, o Options) {
				assert.True(t, o.LeaderElect)
				assert.Equal(t, "ops", o.LeaderElectionNamespace)
				assert.Equal(t, []time.Duration{time.Minute, 40 * time.Second, 5 * time.Second}, []time.Duration{o.LeaseDuration, o.RenewDeadline, o.RetryPeriod})
			}},
		{"metrics certificate", "", []string{"--metrics-cert-path=/tmp/k8s-metrics-server/metrics-certs"},
			func(t *testing.T, o Options) {
				assert.Equal(t, "/tmp/k8s-metrics-server/metrics-certs", o.MetricsCertDir)
				assert.True(t, o.SecureMetrics, "a certificate does not turn authentication off")
			}},
		{"human-readable logs", "", []string{"--zap-devel"},
			func(t *testing.T, o Options) { assert.True(t, o.Zap.Development) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewOptions("test", tc.id)
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o.BindFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			tc.check(t, o)
		})
	}
}

// A binary without a Lease (the webhook) does not offer leader election at all.
func TestNoLeaderElectionFlagsWithoutALease(t *testing.T) {
	o := NewOptions("scheduler-webhook", "")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.BindFlags(fs)
	assert.Error(t, fs.Parse([]string{"--leader-elect"}))
	assert.Nil(t, fs.Lookup("leader-election-namespace"))
}
