package schedulerwebhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuer issues serving certificates that expire when a test says.
type issuer struct {
	rotator *rotator.CertRotator
	ca      *rotator.KeyPairArtifacts
}

func newIssuer(t *testing.T) issuer {
	t.Helper()
	r := &rotator.CertRotator{DNSName: "localhost", CAName: "test-ca", CAOrganization: "test",
		ExtKeyUsages: &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	ca, err := r.CreateCACert(time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	require.NoError(t, err)
	return issuer{rotator: r, ca: ca}
}

// issue returns a certificate and key valid until notAfter, which is whole seconds as X.509 records it.
func (i issuer) issue(t *testing.T, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := i.rotator.CreateCertPEM(i.ca, time.Now().Add(-time.Hour), notAfter)
	require.NoError(t, err)
	return certPEM, keyPEM
}

// serveWith serves TLS with cfg on a loopback port until the test ends and returns the address.
func serveWith(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
	}()
	return l.Addr().String()
}

// servedNotAfter is the NotAfter of the certificate served at addr, in Unix seconds as the metric has it.
func servedNotAfter(t *testing.T, addr string) float64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspecting, not trusting
	require.NoError(t, err)
	defer conn.Close()
	return float64(conn.ConnectionState().PeerCertificates[0].NotAfter.Unix())
}

// With self-managed certificates the metric is the NotAfter of the pair the server serves from memory: none
// before the first is issued, and a renewal's at once.
func TestExpiryMetricOfSelfManagedCertificates(t *testing.T) {
	c := NewCertificates(CertOptions{SelfManaged: true})
	metric := expiryCollector{served: c.servedCertificate}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	c.TLSOpt(cfg)
	addr := serveWith(t, cfg)
	assert.Equal(t, 0, testutil.CollectAndCount(metric), "no sample before a certificate is served")

	ca := newIssuer(t)
	for _, notAfter := range []time.Time{time.Unix(time.Now().Add(2*time.Hour).Unix(), 0), time.Unix(time.Now().Add(365*24*time.Hour).Unix(), 0)} {
		certPEM, keyPEM := ca.issue(t, notAfter)
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		require.NoError(t, err)
		c.serving.Store(&pair) // as the Secret's handler does
		assert.Equal(t, float64(notAfter.Unix()), testutil.ToFloat64(metric))
		assert.Equal(t, servedNotAfter(t, addr), testutil.ToFloat64(metric), "the metric is the served certificate's")
	}
}

// With external certificates (cert-manager) the metric is the NotAfter of the pair in CertDir as the server
// serves it, and follows the files when they are replaced.
func TestExpiryMetricOfExternalCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newIssuer(t)
	write := func(notAfter time.Time) {
		certPEM, keyPEM := ca.issue(t, notAfter)
		// Written by rename, as the kubelet updates a Secret volume, so the watcher never reads half a file.
		for name, content := range map[string][]byte{keyFile: keyPEM, certFile: certPEM} {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "."+name), content, 0o600))
			require.NoError(t, os.Rename(filepath.Join(dir, "."+name), filepath.Join(dir, name)))
		}
	}
	first := time.Unix(time.Now().Add(30*24*time.Hour).Unix(), 0)
	write(first)

	c := NewCertificates(CertOptions{CertDir: dir})
	metric := expiryCollector{served: c.servedCertificate}
	files, err := c.watchFiles()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = files.Start(ctx) }()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	c.TLSOpt(cfg)
	require.NotNil(t, cfg.GetCertificate, "the server serves from the watcher the metric reads")
	addr := serveWith(t, cfg)
	assert.Equal(t, float64(first.Unix()), testutil.ToFloat64(metric))
	assert.Equal(t, servedNotAfter(t, addr), testutil.ToFloat64(metric))

	renewed := time.Unix(time.Now().Add(90*24*time.Hour).Unix(), 0)
	write(renewed)
	require.Eventually(t, func() bool { return testutil.ToFloat64(metric) == float64(renewed.Unix()) },
		time.Minute, 50*time.Millisecond, "the renewed certificate's expiry is exported")
	assert.Equal(t, servedNotAfter(t, addr), testutil.ToFloat64(metric), "and it is the one served")
}
