package storageos_test

import (
	"context"
	"fmt"
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
	assert.Equal(t, []storageos.Node{
		{ID: "1", Name: "node-a", Health: storageos.NodeHealthOnline},
		{ID: "2", Name: "node-b", Health: storageos.NodeHealthOffline},
	}, nodes)

	require.NoError(t, c.EnableMaintenance(ctx))
	assert.True(t, sim.Maintenance())
	require.NoError(t, c.DisableMaintenance(ctx))
	assert.False(t, sim.Maintenance())
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
