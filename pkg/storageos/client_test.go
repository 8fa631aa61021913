package storageos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
