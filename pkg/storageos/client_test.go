package storageos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
)

var creds = storageos.Credentials{Username: "admin", Password: "s3cret-password"}

func setup(t *testing.T, opts ...storageos.Option) (*simulator.Simulator, *storageos.Client) {
	t.Helper()
	sim := simulator.New(creds)
	t.Cleanup(sim.Close)
	return sim, storageos.New(sim.URL(), creds, opts...)
}

func TestClusterConfigurationRoundTrip(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()

	cluster, err := c.GetCluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, "simulated-cluster", cluster.ID)
	assert.False(t, cluster.DisableTelemetry)

	cluster.DisableTelemetry, cluster.LogLevel = true, "debug"
	updated, err := c.UpdateCluster(ctx, *cluster)
	require.NoError(t, err)
	assert.True(t, updated.DisableTelemetry)
	assert.NotEqual(t, cluster.Version, updated.Version)
	assert.Equal(t, "debug", sim.Cluster().LogLevel)

	// Writing with the version read before the update is refused: someone else's change is not overwritten.
	_, err = c.UpdateCluster(ctx, *cluster)
	assert.ErrorIs(t, err, storageos.ErrConflict)
	assert.Equal(t, 1, sim.Requests("POST /v2/auth/login"), "one session serves every call")
}

func TestNodesAndMaintenance(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	sim.SetNodes(storageos.Node{ID: "1", Name: "node-a", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "2", Name: "node-b", Health: storageos.NodeHealthOffline})

	nodes, err := c.ListNodes(ctx)
	require.NoError(t, err)
	alive, unknown := storageos.ComponentAlive, "unknown"
	assert.Equal(t, []storageos.Node{
		{ID: "1", Name: "node-a", Health: storageos.NodeHealthOnline, Version: "1", Components: storageos.NodeComponents{
			DirectfsInitiator: alive, Director: alive, KV: alive, KVWrite: alive, Nats: alive, Presentation: alive, Rdb: alive}},
		{ID: "2", Name: "node-b", Health: storageos.NodeHealthOffline, Version: "1", Components: storageos.NodeComponents{
			DirectfsInitiator: unknown, Director: unknown, KV: unknown, KVWrite: unknown, Nats: unknown, Presentation: unknown, Rdb: unknown}},
	}, nodes)

	require.NoError(t, c.EnableMaintenance(ctx))
	assert.True(t, sim.Maintenance())
	require.NoError(t, c.DisableMaintenance(ctx))
	assert.False(t, sim.Maintenance())
}

func TestUpdateNodeLabels(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	sim.SetNodes(storageos.Node{ID: "id-a", Name: "node-a", Health: storageos.NodeHealthOnline,
		Labels: map[string]string{"storageos.com/computeonly": "true"}})
	read := func() storageos.Node {
		t.Helper()
		nodes, err := c.ListNodes(ctx)
		require.NoError(t, err)
		require.Len(t, nodes, 1)
		return nodes[0]
	}

	node := read()
	updated, err := c.UpdateNodeLabels(ctx, node, map[string]string{"zone": "a", "storageos.com/computeonly": "true"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"zone": "a", "storageos.com/computeonly": "true"}, updated.Labels)
	assert.NotEqual(t, node.Version, updated.Version, "a write bumps the version")
	assert.Equal(t, updated.Labels, read().Labels)

	// The version read before that write is stale now: refused, so the caller reads again instead of
	// overwriting a change it has not seen.
	_, err = c.UpdateNodeLabels(ctx, node, map[string]string{})
	require.ErrorIs(t, err, storageos.ErrConflict)

	// No labels at all is sent as an empty set, which clears them, not as a missing field.
	_, err = c.UpdateNodeLabels(ctx, read(), nil)
	require.NoError(t, err)
	assert.Empty(t, read().Labels)

	_, err = c.UpdateNodeLabels(ctx, storageos.Node{ID: "gone", Version: "1"}, nil)
	require.ErrorIs(t, err, storageos.ErrNotFound)
	assert.False(t, storageos.IsUnavailable(err))

	assert.Equal(t, 4, sim.Requests("PUT /v2/nodes/{id}"), "updates of every node count under the route")
	assert.Equal(t, 3, sim.Requests("PUT /v2/nodes/id-a"))
}

// The StorageOS v2 API answers a stale version with 412 and the simulator with 409: both mean "read again".
func TestStaleVersionAnswers(t *testing.T) {
	for _, status := range []int{http.StatusConflict, http.StatusPreconditionFailed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/auth/login" {
					w.Header().Set("Authorization", "Bearer token")
					return
				}
				http.Error(w, "version mismatch", status)
			}))
			t.Cleanup(api.Close)
			_, err := storageos.New(api.URL, creds).UpdateNodeLabels(context.Background(), storageos.Node{ID: "a", Version: "1"}, nil)
			assert.ErrorIs(t, err, storageos.ErrConflict)
		})
	}
}

// The simulator keeps what the API's users wrote across SetNodes, which the demo calls every half second.
func TestSimulatorNodeState(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	online := storageos.Node{ID: "id-a", Name: "node-a", Health: storageos.NodeHealthOnline}
	sim.SetNodes(online)
	sim.SetComponent("node-a", "rdb", "unknown")
	node, _ := sim.Node("node-a")
	_, err := c.UpdateNodeLabels(ctx, node, map[string]string{"zone": "a"})
	require.NoError(t, err)

	offline := online
	offline.Health = storageos.NodeHealthOffline
	sim.SetNodes(offline)
	got, ok := sim.Node("node-a")
	require.True(t, ok)
	assert.Equal(t, map[string]string{"zone": "a"}, got.Labels, "labels survive a health change")
	assert.Equal(t, "2", got.Version)
	assert.Equal(t, "unknown", got.Components.Director, "an offline node's components are not alive")

	sim.SetNodes(online)
	got, _ = sim.Node("node-a")
	assert.Equal(t, "unknown", got.Components.Rdb, "the component set unhealthy stays so")
	assert.Equal(t, storageos.ComponentAlive, got.Components.Director)

	sim.SetComponent("node-a", "rdb", storageos.ComponentAlive)
	sim.SetLabels("node-a", map[string]string{"zone": "b"})
	got, _ = sim.Node("node-a")
	assert.Equal(t, storageos.ComponentAlive, got.Components.Rdb)
	assert.Equal(t, map[string]string{"zone": "b"}, got.Labels)
	assert.Equal(t, "3", got.Version, "a change behind the operator's back bumps the version")

	_, ok = sim.Node("node-z")
	assert.False(t, ok)
	assert.Panics(t, func() { sim.SetComponent("node-a", "disk", "dead") }, "an unknown component is a test's mistake")
	assert.Panics(t, func() { sim.SetLabels("node-z", nil) }, "so is an unknown node")
}

func TestExpiredSessionIsRenewedOnce(t *testing.T) {
	sim, c := setup(t)
	ctx := context.Background()
	_, err := c.ListNodes(ctx)
	require.NoError(t, err)

	sim.ExpireSessions()
	_, err = c.ListNodes(ctx)
	require.NoError(t, err, "a 401 on an expired session logs in again and retries")
	assert.Equal(t, 2, sim.Requests("POST /v2/auth/login"))
	assert.Equal(t, 3, sim.Requests("GET /v2/nodes"))
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name   string
		fault  func(*simulator.Simulator)
		client []storageos.Option
		check  func(t *testing.T, err error)
	}{
		{"credentials rejected", func(s *simulator.Simulator) { s.RejectCredentials(true) }, nil,
			func(t *testing.T, err error) {
				assert.ErrorIs(t, err, storageos.ErrUnauthorized)
				assert.False(t, storageos.IsUnavailable(err))
			}},
		{"outage", func(s *simulator.Simulator) { s.SetOutage(true) }, nil,
			func(t *testing.T, err error) { assert.True(t, storageos.IsUnavailable(err), "%v", err) }},
		{"slower than the timeout", func(s *simulator.Simulator) { s.SetLatency(2 * time.Second) },
			[]storageos.Option{storageos.WithTimeout(100 * time.Millisecond)},
			func(t *testing.T, err error) { assert.True(t, storageos.IsUnavailable(err), "%v", err) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim, c := setup(t, tc.client...)
			tc.fault(sim)
			_, err := c.ListNodes(context.Background())
			require.Error(t, err)
			tc.check(t, err)
			assert.NotContains(t, err.Error(), creds.Password, "errors never carry the password")
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	sim := simulator.New(creds)
	url := sim.URL()
	sim.Close()
	_, err := storageos.New(url, creds).GetCluster(context.Background())
	assert.True(t, storageos.IsUnavailable(err), "%v", err)
}

func TestCredentialsNeverPrint(t *testing.T) {
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, creds), creds.Password, format)
	}
}

// redirectingAPI is a StorageOS API that answers every request (the login too, when redirectLogin) with status
// and a Location on another server, target, which records what reaches it.
type redirectingAPI struct {
	api, target    *httptest.Server
	apiRequests    atomic.Int32
	targetRequests atomic.Int32
}

func newRedirectingAPI(t *testing.T, status int, redirectLogin bool) *redirectingAPI {
	t.Helper()
	r := &redirectingAPI{}
	r.target = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		r.targetRequests.Add(1)
		// Reaching here at all is the failure; say what leaked, should it happen.
		body, _ := io.ReadAll(req.Body)
		t.Errorf("the redirect was followed: %s %s with Authorization %q and body %q", req.Method, req.URL.Path,
			req.Header.Get("Authorization"), body)
	}))
	t.Cleanup(r.target.Close)
	r.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.apiRequests.Add(1)
		if req.URL.Path == "/v2/auth/login" && !redirectLogin {
			w.Header().Set("Authorization", "Bearer session-token")
			return
		}
		http.Redirect(w, req, r.target.URL+req.URL.Path, status) //nolint:gosec // G710: redirecting elsewhere is the test's point
	}))
	t.Cleanup(r.api.Close)
	return r
}

// A redirect is never followed: the login's password and the session token go to the configured endpoint
// only. 307 and 308 are the dangerous ones (Go's client re-sends the body), 302 the common one.
func TestRedirectsAreNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Run("login", func(t *testing.T) {
				r := newRedirectingAPI(t, status, true)
				err := storageos.New(r.api.URL, creds).Login(context.Background())
				require.ErrorIs(t, err, storageos.ErrRedirected)
				assert.False(t, storageos.IsUnavailable(err), "a redirect is not an outage to wait out")
				assert.Contains(t, err.Error(), strings.TrimPrefix(r.target.URL, "http://"), "the error names where it pointed")
				assert.Equal(t, int32(1), r.apiRequests.Load())
				assert.Zero(t, r.targetRequests.Load(), "the redirect target sees no request")
			})
			t.Run("session", func(t *testing.T) {
				r := newRedirectingAPI(t, status, false)
				_, err := storageos.New(r.api.URL, creds).UpdateNodeLabels(context.Background(), storageos.Node{ID: "a", Version: "1"}, nil)
				require.ErrorIs(t, err, storageos.ErrRedirected)
				assert.Equal(t, int32(2), r.apiRequests.Load(), "the login, then the PUT")
				assert.Zero(t, r.targetRequests.Load(), "the redirect target sees no request")
			})
		})
	}
}

// An error answer is summarised in the error by its status and a short reason, whatever the body's size or
// content: the errors end up in conditions and events.
func TestErrorAnswersAreSummarised(t *testing.T) {
	huge := strings.Repeat("x", 10<<10)
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string // the whole error message
	}{
		{"StorageOS JSON error", http.StatusInternalServerError, "application/json",
			`{"error":"etcd is not reachable","detail":"` + huge + `"}`,
			"storageos API unavailable (GET /v2/nodes): GET /v2/nodes: HTTP 500: etcd is not reachable"},
		{"JSON message, long", http.StatusInternalServerError, "application/json; charset=utf-8",
			`{"message":"` + huge + `"}`,
			"storageos API unavailable (GET /v2/nodes): GET /v2/nodes: HTTP 500: " + strings.Repeat("x", 99) + "…"},
		{"10 KiB of plain text on one line", http.StatusInternalServerError, "text/plain; charset=utf-8", huge,
			"storageos API unavailable (GET /v2/nodes): GET /v2/nodes: HTTP 500: " + strings.Repeat("x", 99) + "…"},
		{"plain text: its first line only", http.StatusBadRequest, "text/plain", "bad labels\nstack trace\n" + huge,
			"GET /v2/nodes: HTTP 400: bad labels"},
		{"control characters and terminal escapes dropped", http.StatusBadRequest, "application/json",
			`{"error":"bad\u001b[31m red\u0000 \tlabel\r\nvalue\u202e"}`, "GET /v2/nodes: HTTP 400: bad[31m red label value"},
		{"HTML of a proxy: no reason", http.StatusBadGateway, "text/html", "<html><body>" + huge + "</body></html>",
			"storageos API unavailable (GET /v2/nodes): GET /v2/nodes: HTTP 502"},
		{"no content type: no reason", http.StatusBadRequest, "", huge, "GET /v2/nodes: HTTP 400"},
		{"JSON that is not: no reason", http.StatusBadRequest, "application/json", `{"error":` + huge,
			"GET /v2/nodes: HTTP 400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/auth/login" {
					w.Header().Set("Authorization", "Bearer token")
					return
				}
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(api.Close)
			_, err := storageos.New(api.URL, creds).ListNodes(context.Background())
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.Equal(t, tc.status >= 500, storageos.IsUnavailable(err))
		})
	}
}

// No error carries the password, the username or the session token, even from an API that echoes them: in a
// JSON error, in plain text, split by control characters, or at the point where the reason is cut.
func TestErrorsNeverCarryCredentials(t *testing.T) {
	const token = "session-token-0123456789"
	cases := []struct {
		name  string
		login bool // the login fails with the answer, rather than the call after it
		body  func(r *http.Request) (contentType, body string)
	}{
		{"login echoed in a JSON error", true, func(r *http.Request) (string, string) {
			login, _ := io.ReadAll(r.Body)
			out, _ := json.Marshal(map[string]string{"error": "cannot parse " + string(login)})
			return "application/json", string(out)
		}},
		{"password in plain text", true, func(*http.Request) (string, string) {
			return "text/plain", "password " + creds.Password + " is weak; user " + creds.Username
		}},
		{"password split by control characters", true, func(*http.Request) (string, string) {
			return "application/json", `{"error":"pw s3cret\u0000-pass\u0007word"}`
		}},
		{"password where the reason is cut", true, func(*http.Request) (string, string) {
			return "text/plain", strings.Repeat("y", 95) + creds.Password
		}},
		{"session token echoed", false, func(r *http.Request) (string, string) {
			return "text/plain", "token " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + " refused"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/auth/login" && !tc.login {
					w.Header().Set("Authorization", "Bearer "+token)
					return
				}
				contentType, body := tc.body(r)
				w.Header().Set("Content-Type", contentType)
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, body)
			}))
			t.Cleanup(api.Close)
			_, err := storageos.New(api.URL, creds).ListNodes(context.Background())
			require.Error(t, err)
			assert.True(t, storageos.IsUnavailable(err))
			msg := err.Error()
			for _, secret := range []string{creds.Password, creds.Username, token, "s3cret"} {
				assert.NotContains(t, msg, secret)
			}
			assert.Less(t, len(msg), 200, msg)
		})
	}
}

// Messages from below the client (here the transport's, which quotes the URL) are checked too: should one carry
// the password, it is replaced, and the error still says what happened.
func TestTransportErrorsAreRedacted(t *testing.T) {
	sim := simulator.New(creds)
	url := sim.URL()
	sim.Close()
	_, err := storageos.New(url+"/"+creds.Password, creds).ListNodes(context.Background())
	require.Error(t, err)
	assert.True(t, storageos.IsUnavailable(err), "%v", err)
	assert.NotContains(t, err.Error(), creds.Password)
	assert.Contains(t, err.Error(), "[redacted]")
}

// With --storageos-api-ca-file the API is reached over HTTPS and its certificate verified against that CA only:
// a server whose certificate another CA signed never gets the login.
func TestAPIOverVerifiedTLS(t *testing.T) {
	sim := simulator.NewTLS(creds)
	defer sim.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, sim.CAPEM(), 0o600))
	// Another CA: a self-signed certificate that did not sign the simulator's.
	require.NoError(t, envtest.WriteServingCert(dir))
	cluster := &storageosv1.StorageOSCluster{}
	ctx := context.Background()

	c, err := (&storageos.Access{Endpoint: storageos.FixedEndpoint(sim.URL()), CAFile: filepath.Join(dir, "tls.crt")}).Connector()
	require.NoError(t, err)
	_, err = c.Connect(cluster, creds).GetCluster(ctx)
	require.Error(t, err, "a certificate another CA signed is refused")
	assert.Zero(t, sim.Requests("POST /v2/auth/login"), "the password never left")
	assert.NotContains(t, err.Error(), creds.Password)

	c, err = (&storageos.Access{Endpoint: storageos.FixedEndpoint(sim.URL()), CAFile: caFile}).Connector()
	require.NoError(t, err)
	_, err = c.Connect(cluster, creds).GetCluster(ctx)
	require.NoError(t, err, "verified against the given CA")

	_, err = (&storageos.Access{Endpoint: storageos.FixedEndpoint("http://storageos:5705"), CAFile: caFile}).Connector()
	assert.ErrorContains(t, err, "is not https", "a CA with a plain-HTTP endpoint would still send the password in clear")
	_, err = (&storageos.Access{CAFile: filepath.Join(dir, "missing.pem")}).Connector()
	assert.ErrorContains(t, err, "--storageos-api-ca-file")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("not a certificate"), 0o600))
	_, err = (&storageos.Access{CAFile: filepath.Join(dir, "empty.pem")}).Connector()
	assert.ErrorContains(t, err, "no PEM certificate")
}

// With a CA file and no fixed endpoint, the cluster's Service is reached over https.
func TestServiceEndpointSchemeFollowsTheCA(t *testing.T) {
	sim := simulator.NewTLS(creds)
	defer sim.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, sim.CAPEM(), 0o600))
	cluster := &storageosv1.StorageOSCluster{Spec: storageosv1.StorageOSClusterSpec{Namespace: "storageos",
		Service: storageosv1.StorageOSClusterService{Name: "storageos", ExternalPort: 5705}}}
	assert.Equal(t, "http://storageos.storageos.svc:5705", storageos.ServiceEndpoint(cluster))
	c, err := (&storageos.Access{CAFile: caFile}).Connector()
	require.NoError(t, err)
	_, err = c.Connect(cluster, creds).GetCluster(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "https://storageos.storageos.svc:5705")
}
