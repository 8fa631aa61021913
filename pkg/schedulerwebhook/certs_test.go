package schedulerwebhook

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveTLS serves the pair on a loopback port until the test ends and returns the address.
func serveTLS(t *testing.T, certPEM, keyPEM []byte) string {
	t.Helper()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return serveWith(t, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
}

func TestServingCertificateCheck(t *testing.T) {
	const name = "storageos-scheduler-webhook.storageos-operator.svc"
	now := time.Now()
	issuer := &rotator.CertRotator{DNSName: name, CAName: "test-ca", CAOrganization: "test", ExtKeyUsages: &[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	ca, err := issuer.CreateCACert(now.Add(-time.Hour), now.Add(24*time.Hour))
	require.NoError(t, err)
	otherCA, err := issuer.CreateCACert(now.Add(-time.Hour), now.Add(24*time.Hour))
	require.NoError(t, err)
	pool := func(a *rotator.KeyPairArtifacts) func() (*x509.CertPool, error) {
		return func() (*x509.CertPool, error) {
			p := x509.NewCertPool()
			p.AddCert(a.Cert)
			return p, nil
		}
	}
	noCA := func() (*x509.CertPool, error) { return nil, nil }
	issue := func(begin, end time.Time) string {
		certPEM, keyPEM, err := issuer.CreateCertPEM(ca, begin, end)
		require.NoError(t, err)
		return serveTLS(t, certPEM, keyPEM)
	}
	valid := issue(now.Add(-time.Hour), now.Add(time.Hour))
	expired := issue(now.Add(-2*time.Hour), now.Add(-time.Hour))
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, closed.Close())

	for _, tc := range []struct {
		name    string
		addr    string
		dnsName string
		roots   func() (*x509.CertPool, error)
		ready   bool
	}{
		{"valid, signed by the CA", valid, name, pool(ca), true},
		{"valid, no CA to check against", valid, name, noCA, true},
		{"signed by another CA", valid, name, pool(otherCA), false},
		{"issued for another name", valid, "elsewhere.svc", pool(ca), false},
		{"issued for another name, no CA", valid, "elsewhere.svc", noCA, false},
		{"expired", expired, name, pool(ca), false},
		{"expired, no CA", expired, name, noCA, false},
		{"nothing listening", closed.Addr().String(), name, pool(ca), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ServingCertificateCheck(tc.addr, tc.dnsName, tc.roots)(httptest.NewRequest(http.MethodGet, "/readyz", http.NoBody))
			if tc.ready {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestWriteCertFilesSkipsUnissuedAndKeepsTheCAKeyOut(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeCertFiles(dir, map[string][]byte{"ca.crt": []byte("ca")}))
	assert.NoFileExists(t, dir+"/ca.crt", "nothing is written before a serving pair is issued")

	require.NoError(t, writeCertFiles(dir, map[string][]byte{"ca.crt": []byte("ca"), "ca.key": []byte("secret"), "tls.crt": []byte("crt"), "tls.key": []byte("key")}))
	for file, content := range map[string]string{"ca.crt": "ca", "tls.crt": "crt", "tls.key": "key"} {
		assert.FileExists(t, dir+"/"+file)
		got, err := readFile(dir + "/" + file)
		require.NoError(t, err)
		assert.Equal(t, content, got)
	}
	assert.NoFileExists(t, dir+"/ca.key")
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
