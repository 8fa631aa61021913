//go:build !mutation

package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

const operatorNamespace = "storageos-operator"

var rotatorCount atomic.Int32

// replica is one self-managed webhook process: its serving, readiness and metrics addresses.
type replica struct {
	serving, probes, metrics string
}

// startSelfManaged runs a webhook replica with self-managed certificates, as the ServiceAccount bound to the
// generated roles, until the test ends.
func startSelfManaged(t *testing.T, index int, configuration, secret string) replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	asWebhook, err := testEnv.AsBinary(ctx, "scheduler-webhook")
	require.NoError(t, err)
	port := freePort(t)
	r := replica{serving: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), probes: net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))}
	opts := manager.NewOptions("scheduler-webhook", "")
	certDir := t.TempDir()
	certificates := schedulerwebhook.NewCertificates(schedulerwebhook.CertOptions{
		SelfManaged:       true,
		Namespace:         operatorNamespace,
		SecretName:        secret,
		ConfigurationName: configuration,
		// The API server calls https://localhost:<port>, so that is the name the certificate must carry.
		DNSNames:       []string{"localhost"},
		CertDir:        certDir,
		ServingAddress: r.serving,
		CheckInterval:  time.Second,
		// Controller names are unique per process, also across repeated runs (-count).
		ControllerName: fmt.Sprintf("cert-rotator-%s-%d-%d", configuration, index, rotatorCount.Add(1)),
	})
	opts.Webhook = &webhook.Options{Host: "127.0.0.1", Port: port, CertDir: certDir, TLSOpts: []func(*tls.Config){certificates.TLSOpt}}
	r.metrics, err = envtest.ServeMetrics(&opts)
	require.NoError(t, err)
	opts.HealthProbeBindAddress = r.probes
	cfg := rest.CopyConfig(testEnv.Config)
	asWebhook(cfg)
	mgr, err := manager.New(cfg, opts)
	require.NoError(t, err)
	require.NoError(t, certificates.Setup(ctx, mgr))
	require.NoError(t, schedulerwebhook.Setup(ctx, mgr, &schedulerwebhook.Handler{}))
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctrl.LoggerInto(ctx, ctrl.Log)) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return r
}

// selfManagedConfiguration registers a copy of the shipped webhook configuration, without a CA bundle, that
// the API server calls at url for namespaces labelled for this test only.
func selfManagedConfiguration(t *testing.T, name, url string) {
	t.Helper()
	ctx := context.Background()
	// The generated role lets the webhook update only the shipped configuration, which the other tests of this
	// package use with envtest's certificates; grant the same on this copy's name.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{admissionregistrationv1.GroupName}, Resources: []string{"mutatingwebhookconfigurations"},
		Verbs: []string{"update"}, ResourceNames: []string{name}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNamespace, Name: "storageos-scheduler-webhook"}}}
	for _, obj := range []client.Object{role, binding} {
		require.NoError(t, testEnv.Client.Create(ctx, obj))
		t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, obj) })
	}
	cfg := install.MutatingWebhooks[0].DeepCopy()
	cfg.ObjectMeta = metav1.ObjectMeta{Name: name}
	cfg.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url)}
	cfg.Webhooks[0].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{testWebhookLabel: name}}
	require.NoError(t, testEnv.Client.Create(ctx, cfg))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, cfg) })
}

// Self-managed certificates end to end: two replicas share one Secret, the CA lands in the webhook
// configuration, the real API server trusts the served certificate, and both the serving certificate and the
// CA are renewed when they near expiry, without a pod admission going wrong.
func TestSelfManagedCertificates(t *testing.T) {
	ctx := context.Background()
	const configuration, secretName = "storageos-scheduler-webhook-self-managed", "scheduler-webhook-cert-test"
	replicas := []replica{startSelfManaged(t, 0, configuration, secretName), startSelfManaged(t, 1, configuration, secretName)}
	selfManagedConfiguration(t, configuration, "https://localhost:"+port(replicas[0].serving)+schedulerwebhook.Path)

	// Only the self-managed webhook is asked about this namespace (the suite's webhook leaves it alone).
	ns := world(t, false)
	labelNamespace(t, ns, map[string]string{testWebhookLabel: configuration})

	secret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: operatorNamespace, Name: secretName}
	for i, r := range replicas {
		require.Eventually(t, func() bool { return ready(r) }, timeout, tick, "replica %d never became ready", i)
	}
	require.NoError(t, testEnv.Client.Get(ctx, key, secret))
	assertConsistent(t, configuration, secret, replicas)
	assert.Equal(t, schedulerwebhook.SchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName,
		"the API server calls the webhook over TLS with the injected CA")
	token := testEnv.MetricsReaderToken(t, testEnv.CreateNamespace(t))
	eventuallyExpiryExported(t, replicas, token, leaf(t, secret.Data["tls.crt"]).NotAfter)

	t.Run("serving certificate renewed before expiry", func(t *testing.T) {
		caBefore := string(secret.Data["ca.crt"])
		// Replace the serving certificate with one of the same CA that expires in an hour: within the renewal
		// window, so the rotator must replace it at once.
		require.NoError(t, testEnv.Client.Get(ctx, key, secret))
		certPEM, keyPEM := shortLivedCert(t, secret.Data["ca.crt"], secret.Data["ca.key"])
		secret.Data["tls.crt"], secret.Data["tls.key"] = certPEM, keyPEM
		require.NoError(t, testEnv.Client.Update(ctx, secret))

		require.Eventually(t, func() bool {
			if testEnv.Client.Get(ctx, key, secret) != nil {
				return false
			}
			return time.Until(leaf(t, secret.Data["tls.crt"]).NotAfter) > 24*time.Hour
		}, timeout, tick, "the short-lived certificate was never renewed")
		assert.Equal(t, caBefore, string(secret.Data["ca.crt"]), "renewing the serving certificate keeps the CA")
		waitConsistent(t, configuration, key, replicas)
		assert.Equal(t, schedulerwebhook.SchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName)
		// The renewed certificate's expiry, which may fall in the same second as the first one's (both a year
		// on); the unit tests show the metric changing with the certificate.
		require.NoError(t, testEnv.Client.Get(ctx, key, secret))
		eventuallyExpiryExported(t, replicas, token, leaf(t, secret.Data["tls.crt"]).NotAfter)
	})

	t.Run("CA renewed and re-injected", func(t *testing.T) {
		require.NoError(t, testEnv.Client.Get(ctx, key, secret))
		caBefore := string(secret.Data["ca.crt"])
		delete(secret.Data, "ca.crt")
		delete(secret.Data, "ca.key")
		require.NoError(t, testEnv.Client.Update(ctx, secret))

		require.Eventually(t, func() bool {
			return testEnv.Client.Get(ctx, key, secret) == nil && len(secret.Data["ca.crt"]) > 0 && string(secret.Data["ca.crt"]) != caBefore
		}, timeout, tick, "no new CA was issued")
		waitConsistent(t, configuration, key, replicas)
		assert.Equal(t, schedulerwebhook.SchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName)
	})
}

// eventuallyExpiryExported waits until every replica's metrics endpoint exports notAfter as the expiry of the
// certificate served. In one process the replicas share the metrics registry, and the newest replica's
// certificate is the one exported; every replica serves the Secret's certificate once they are consistent.
func eventuallyExpiryExported(t *testing.T, replicas []replica, token string, notAfter time.Time) {
	t.Helper()
	const name = "storageos_scheduler_webhook_certificate_expiry_timestamp_seconds"
	want := float64(notAfter.Unix())
	for i, r := range replicas {
		for deadline := time.Now().Add(timeout); ; time.Sleep(tick) {
			m, err := envtest.Scrape(r.metrics, token)
			got, found := m.Value(name, nil)
			if err == nil && found && got == want {
				break
			}
			if time.Now().After(deadline) {
				require.FailNowf(t, "expiry not exported", "replica %d exports %v (found %v, scrape error %v); the served certificate expires at %v",
					i, got, found, err, want)
			}
		}
	}
}

// waitConsistent waits until the Secret, the webhook configuration and every replica agree.
func waitConsistent(t *testing.T, configuration string, key client.ObjectKey, replicas []replica) {
	t.Helper()
	require.Eventually(t, func() bool {
		secret := &corev1.Secret{}
		if testEnv.Client.Get(context.Background(), key, secret) != nil {
			return false
		}
		return consistent(t, configuration, secret, replicas) == nil
	}, timeout, tick)
}

func assertConsistent(t *testing.T, configuration string, secret *corev1.Secret, replicas []replica) {
	t.Helper()
	assert.NoError(t, consistent(t, configuration, secret, replicas))
}

// consistent says whether the webhook configuration carries the Secret's CA and every replica serves the
// Secret's certificate and reports ready.
func consistent(t *testing.T, configuration string, secret *corev1.Secret, replicas []replica) error {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := testEnv.Client.Get(context.Background(), client.ObjectKey{Name: configuration}, cfg); err != nil {
		return err
	}
	if string(cfg.Webhooks[0].ClientConfig.CABundle) != string(secret.Data["ca.crt"]) {
		return fmt.Errorf("caBundle is not the Secret's CA")
	}
	want := leaf(t, secret.Data["tls.crt"])
	for i, r := range replicas {
		served, err := servedCert(r.serving)
		if err != nil {
			return err
		}
		if !served.Equal(want) {
			return fmt.Errorf("replica %d serves certificate %s, the Secret holds %s", i, served.SerialNumber, want.SerialNumber)
		}
		if !ready(r) {
			return fmt.Errorf("replica %d is not ready", i)
		}
	}
	return nil
}

func ready(r replica) bool {
	resp, err := http.Get("http://" + r.probes + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

func servedCert(addr string) (*x509.Certificate, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspecting, not trusting
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func leaf(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block, "no PEM certificate")
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

func labelNamespace(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Name: name}, ns))
	for k, v := range labels {
		ns.Labels[k] = v
	}
	require.NoError(t, testEnv.Client.Update(context.Background(), ns))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// shortLivedCert issues a serving certificate for localhost, signed by the given CA, that expires in an hour.
func shortLivedCert(t *testing.T, caPEM, caKeyPEM []byte) (certPEM, keyPEM []byte) {
	t.Helper()
	ca := leaf(t, caPEM)
	block, _ := pem.Decode(caKeyPEM)
	require.NotNil(t, block, "no PEM CA key")
	caKey, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}
