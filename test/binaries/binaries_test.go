package binaries

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// binaries maps each binary to the Lease it takes; the webhook serves from every replica and takes none.
var binaries = []struct {
	name  string
	lease string
}{
	{"cluster-manager", "cluster-manager.storageos.com"},
	{"upgrade-manager", "upgrade-manager.storageos.com"},
	{"job-manager", "job-manager.storageos.com"},
	{"scheduler-webhook", ""},
}

var httpClient = &http.Client{
	Timeout: 10 * time.Second,
	// The metrics server's certificate is self-signed when no --metrics-cert-path is given.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // test only
}

func get(url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func TestEveryBinaryServesProbesTakesItsLeaseAndStopsOnSIGTERM(t *testing.T) {
	for _, b := range binaries {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			ns := testEnv.CreateNamespace(t)
			args := []string{"--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0"}
			if b.name == "scheduler-webhook" {
				// Self-managed certificates, as deployed by default: ready means a certificate was issued into
				// the Secret and the server serves it.
				args = append(args, webhookArgs(t, ns)...)
			}
			if b.lease != "" {
				args = append(args, "--leader-elect", "--leader-election-namespace="+ns)
			}
			p := startBinary(t, b.name, args...)
			addr := p.healthProbeAddr(t)

			for _, path := range []string{"/healthz", "/readyz"} {
				waitFor(t, startDeadline, path+" to answer 200", func() bool {
					code, _, err := get("http://"+addr+path, "")
					return err == nil && code == http.StatusOK
				})
			}

			lease := &coordinationv1.Lease{}
			if b.lease != "" {
				// The log, not the Lease object, says the process knows it leads: a Lease created by a request
				// whose answer never arrived is held by a process that does not know it.
				p.waitForLog(t, "Successfully acquired lease")
				waitFor(t, startDeadline, "the Lease "+b.lease+" to be held", func() bool {
					err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: b.lease}, lease)
					return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
				})
			}

			assert.Equal(t, 0, p.stop(t), "a graceful shutdown exits 0")

			for _, e := range p.logLines(t) {
				assert.NotEqual(t, "Serving metrics server", e["msg"], "--metrics-bind-address=0 disables metrics")
			}
			if b.lease != "" {
				// The Lease is released on the way out, so another replica can take over at once.
				require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: b.lease}, lease))
				assert.True(t, lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "",
					"the Lease is still held by %v after shutdown", lease.Spec.HolderIdentity)
			}
		})
	}
}

// Every replica of the webhook serves, so it has no leader election to turn on.
func TestWebhookRefusesLeaderElection(t *testing.T) {
	p := startBinary(t, "scheduler-webhook", "--leader-elect")
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
		t.Fatal("the webhook accepted --leader-elect")
	}
	assert.Equal(t, 2, p.exitCode(t), "an unknown flag is a usage error")
	assert.Contains(t, p.logs.String(), "flag provided but not defined: -leader-elect")
}

// Only the second replica to start waits: two leader-elected replicas never act at once.
func TestSecondReplicaWaitsForTheLease(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	args := []string{"--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0",
		"--leader-elect", "--leader-election-namespace=" + ns}
	first := startBinary(t, "job-manager", args...)
	first.waitForLog(t, "Successfully acquired lease")
	lease := &coordinationv1.Lease{}
	var holder string
	waitFor(t, startDeadline, "the first replica to take the Lease", func() bool {
		err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "job-manager.storageos.com"}, lease)
		if err == nil && lease.Spec.HolderIdentity != nil {
			holder = *lease.Spec.HolderIdentity
		}
		return holder != ""
	})

	second := startBinary(t, "job-manager", args...)
	second.waitForLog(t, "Attempting to acquire leader lease...")
	// Over more than one retry period (2s) the held Lease stays with the first replica.
	assert.Never(t, func() bool {
		err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "job-manager.storageos.com"}, lease)
		return err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != holder
	}, 5*time.Second, pollInterval, "the second replica must not take a held Lease")
	for _, e := range second.logLines(t) {
		require.NotEqual(t, "Successfully acquired lease", e["msg"])
	}

	require.Equal(t, 0, first.stop(t))
	waitFor(t, startDeadline, "the second replica to take over the released Lease", func() bool {
		err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "job-manager.storageos.com"}, lease)
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "" &&
			*lease.Spec.HolderIdentity != holder
	})
	second.waitForLog(t, "Successfully acquired lease")
	assert.Equal(t, 0, second.stop(t))
}

// Metrics are served over HTTPS and only to callers Kubernetes authenticates and authorises for /metrics.
func TestMetricsRequireAuthenticationAndAuthorization(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	p, addr := startWithMetrics(t, "cluster-manager")
	url := "https://" + addr + "/metrics"

	reader := serviceAccountToken(t, ns, "metrics-reader", true)
	stranger := serviceAccountToken(t, ns, "stranger", false)

	var code int
	var body string
	waitFor(t, startDeadline, "an authorised scrape to succeed", func() bool {
		var err error
		code, body, err = get(url, reader)
		return err == nil && code == http.StatusOK
	})
	assert.Contains(t, body, "# TYPE", "a Prometheus exposition")

	code, _, err := get(url, "")
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, code, "no token")

	// controller-runtime's filter answers 500 rather than 401 when the TokenReview rejects a token; what
	// matters is that the metrics are refused.
	code, body, err = get(url, "not-a-token")
	require.NoError(t, err)
	assert.NotEqual(t, http.StatusOK, code, "a token the API server does not know")
	assert.NotContains(t, body, "# TYPE")

	code, _, err = get(url, stranger)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, code, "an authenticated caller without get on /metrics")

	code, _, err = get("http://"+addr+"/metrics", reader)
	if err == nil {
		assert.NotEqual(t, http.StatusOK, code, "metrics must not be served over plain HTTP")
	}
	assert.Equal(t, 0, p.stop(t))
}

// serviceAccountToken creates a ServiceAccount, optionally allowed to read /metrics, and returns a token for it.
func serviceAccountToken(t *testing.T, ns, name string, canReadMetrics bool) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	require.NoError(t, testEnv.Client.Create(ctx, sa))
	if canReadMetrics {
		role := &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s", ns, name)},
			Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
		}
		require.NoError(t, testEnv.Client.Create(ctx, role))
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
		}
		require.NoError(t, testEnv.Client.Create(ctx, binding))
		t.Cleanup(func() {
			_ = testEnv.Client.Delete(ctx, binding)
			_ = testEnv.Client.Delete(ctx, role)
		})
	}
	tr := &authenticationv1.TokenRequest{}
	require.NoError(t, testEnv.Client.SubResource("token").Create(ctx, sa, tr))
	require.NotEmpty(t, tr.Status.Token)
	return tr.Status.Token
}

// webhookArgs run the webhook in namespace ns with an empty certificate directory and a free port.
func webhookArgs(t *testing.T, ns string) []string {
	_, port, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	return []string{"--namespace=" + ns, "--webhook-cert-dir=" + t.TempDir(), "--webhook-port=" + port,
		"--webhook-configuration-name=storageos-scheduler-webhook-" + ns}
}

// With self-managed certificates the webhook issues its certificate into the Secret before it is ready.
func TestWebhookIssuesItsCertificateBeforeItIsReady(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	p := startBinary(t, "scheduler-webhook", append(webhookArgs(t, ns), "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0")...)
	addr := p.healthProbeAddr(t)
	waitFor(t, startDeadline, "/readyz to answer 200", func() bool {
		code, _, err := get("http://"+addr+"/readyz", "")
		return err == nil && code == http.StatusOK
	})
	secret := &corev1.Secret{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "storageos-scheduler-webhook-cert"}, secret))
	for _, key := range []string{"ca.crt", "ca.key", "tls.crt", "tls.key"} {
		assert.NotEmpty(t, secret.Data[key], key)
	}
	assert.Equal(t, 0, p.stop(t))
}

// With --disable-cert-rotation the webhook serves what is in its certificate directory, and is ready only
// when that certificate is valid for the webhook Service's name.
func TestWebhookWithExternalCertificates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dns   string
		ready bool
	}{
		{"certificate for the Service", "storageos-scheduler-webhook.%s.svc", true},
		{"certificate for another name", "elsewhere.%s.svc", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testEnv.CreateNamespace(t)
			dir := t.TempDir()
			require.NoError(t, envtest.WriteServingCert(dir, fmt.Sprintf(tc.dns, ns)))
			_, port, err := net.SplitHostPort(freeAddr(t))
			require.NoError(t, err)
			p := startBinary(t, "scheduler-webhook", "--disable-cert-rotation", "--namespace="+ns, "--webhook-cert-dir="+dir,
				"--webhook-port="+port, "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0")
			addr := p.healthProbeAddr(t)
			if tc.ready {
				waitFor(t, startDeadline, "/readyz to answer 200", func() bool {
					code, _, err := get("http://"+addr+"/readyz", "")
					return err == nil && code == http.StatusOK
				})
			} else {
				// The server runs and the caches sync; only the certificate check keeps it unready.
				waitFor(t, startDeadline, "/readyz to fail only on the certificate", func() bool {
					code, body, err := get("http://"+addr+"/readyz?verbose", "")
					return err == nil && code == http.StatusInternalServerError &&
						strings.Contains(body, "[-]certificate failed") && strings.Contains(body, "[+]caches ok")
				})
			}
			err = testEnv.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "storageos-scheduler-webhook-cert"}, &corev1.Secret{})
			assert.True(t, apierrors.IsNotFound(err), "no Secret is created for external certificates: %v", err)
			assert.Equal(t, 0, p.stop(t))
		})
	}
}
