package manager

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// startMetrics starts a manager that serves metrics only, on a loopback port, and returns the port's address.
// No API server is needed: the manager never gets as far as asking one.
func startMetrics(t *testing.T, o Options) string {
	t.Helper()
	o.MetricsBindAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	o.HealthProbeBindAddress = "0"
	mgr, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "the manager stops cleanly")
	})
	waitForTLS(t, o.MetricsBindAddress)
	return o.MetricsBindAddress
}

// With --metrics-cert-path the metrics server serves that certificate, so a scraper that verifies it against
// its CA and name (as the ServiceMonitors of config/prometheus do) connects.
func TestMetricsServerServesTheGivenCertificate(t *testing.T) {
	dir := servingCertDir(t)
	o := NewOptions("test", "")
	o.MetricsCertDir = dir
	addr := startMetrics(t, o)

	// servingCertDir's tls.crt is the serving certificate followed by the CA that signed it.
	pem, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "the metrics certificate verifies against its CA")
	require.NoError(t, conn.Close())

	_, err = tls.Dial("tcp", addr, &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12})
	assert.Error(t, err, "and against nothing else")
}

// A certificate directory without the certificate fails the start instead of falling back to a self-signed
// certificate that scrapers would refuse.
func TestMetricsCertDirWithoutCertificateFails(t *testing.T) {
	for name, files := range map[string][]string{"empty": nil, "no key": {"tls.crt"}, "no certificate": {"tls.key"}} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600))
			}
			o := NewOptions("test", "")
			o.MetricsCertDir = dir
			o.HealthProbeBindAddress = "0"
			_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, o)
			assert.ErrorContains(t, err, "metrics certificate")
		})
	}

	o := NewOptions("test", "")
	o.MetricsCertDir, o.SecureMetrics, o.HealthProbeBindAddress = t.TempDir(), false, "0"
	_, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, o)
	assert.NoError(t, err, "plain HTTP metrics use no certificate")
}
