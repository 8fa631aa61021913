package envtest

import (
	"net"
	"path/filepath"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// WriteServingCert writes a self-signed tls.crt and tls.key for 127.0.0.1, localhost and dnsNames into dir,
// for tests that run a webhook binary outside envtest's own webhook installation.
func WriteServingCert(dir string, dnsNames ...string) error {
	crt, key, err := cert.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, dnsNames)
	if err != nil {
		return err
	}
	if err := cert.WriteCert(filepath.Join(dir, "tls.crt"), crt); err != nil {
		return err
	}
	return keyutil.WriteKey(filepath.Join(dir, "tls.key"), key)
}
