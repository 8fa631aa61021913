//go:build !mutation

package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The cluster-manager's metrics endpoint, scraped as Prometheus does, follows the cluster's status: its phase,
// node pods, the StorageOS nodes' health as the API reports it, and its conditions.
func TestMetricsFollowTheClusterStatus(t *testing.T) {
	// IDs of this test's own, so that component states other tests set on their nodes do not carry over.
	sim.SetNodes(storageos.Node{ID: "metrics-1", Name: "node-m1", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "metrics-2", Name: "node-m2", Health: storageos.NodeHealthOnline})
	c := createCluster(t, nil)
	token := testEnv.MetricsReaderToken(t, c.Namespace)
	of := func(extra map[string]string) map[string]string {
		l := map[string]string{"namespace": c.Namespace, "name": c.Name}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}

	// Before any node pod exists the cluster is Creating, and no StorageOS node is counted in any health.
	m := envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_cluster_", func(m envtest.Metrics) bool {
		v, ok := m.Value("storageos_cluster_status_phase", of(map[string]string{"phase": "Creating"}))
		return ok && v == 1
	}, "the cluster is exported as Creating")
	assert.Equal(t, 4, m.Count("storageos_cluster_status_phase", of(nil)), "every phase is exported")
	assert.Equal(t, 3, m.Count("storageos_cluster_storageos_nodes", of(nil)), "every health is exported")

	nodesUp(t, c, "node-m1", "node-m2")
	m = envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_cluster_", func(m envtest.Metrics) bool {
		return m.Get("storageos_cluster_status_phase", of(map[string]string{"phase": "Running"})) == 1 &&
			m.Get("storageos_cluster_storageos_nodes", of(map[string]string{"health": "online"})) == 2 &&
			m.Get("storageos_cluster_status_condition", of(map[string]string{"condition": "NodesHealthy", "status": "True"})) == 1
	}, "the cluster is exported as Running with two online StorageOS nodes")
	for phase, want := range map[string]float64{"Creating": 0, "Running": 1, "Pending": 0, "Terminating": 0} {
		assert.Equal(t, want, m.Get("storageos_cluster_status_phase", of(map[string]string{"phase": phase})), phase)
	}
	assert.Equal(t, 2.0, m.Get("storageos_cluster_nodes_desired", of(nil)))
	assert.Equal(t, 2.0, m.Get("storageos_cluster_nodes_ready", of(nil)))
	for health, want := range map[string]float64{"online": 2, "offline": 0, "unknown": 0} {
		assert.Equal(t, want, m.Get("storageos_cluster_storageos_nodes", of(map[string]string{"health": health})), health)
	}
	for _, node := range []string{"node-m1", "node-m2"} {
		// The node's own health and each of its seven components, all healthy.
		assert.Equal(t, 8, m.Count("storageos_cluster_node_healthy", of(map[string]string{"node": node})), node)
		for _, component := range []string{"node", "rdb", "kvWrite", "directfsInitiator"} {
			assert.Equal(t, 1.0, m.Get("storageos_cluster_node_healthy", of(map[string]string{"node": node, "component": component})),
				"%s %s", node, component)
		}
	}
	for _, condition := range []string{"Available", "NodeReady", "APIReady", "NodesHealthy"} {
		assert.Equal(t, 1.0, m.Get("storageos_cluster_status_condition", of(map[string]string{"condition": condition, "status": "True"})), condition)
		assert.Equal(t, 0.0, m.Get("storageos_cluster_status_condition", of(map[string]string{"condition": condition, "status": "False"})), condition)
		assert.Equal(t, 3, m.Count("storageos_cluster_status_condition", of(map[string]string{"condition": condition})), condition)
	}

	// The StorageOS API reports a node offline: once the status follows, so does the endpoint.
	sim.SetNodes(storageos.Node{ID: "metrics-1", Name: "node-m1", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "metrics-2", Name: "node-m2", Health: storageos.NodeHealthOffline})
	m = envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_cluster_", func(m envtest.Metrics) bool {
		return m.Get("storageos_cluster_storageos_nodes", of(map[string]string{"health": "offline"})) == 1
	}, "one offline StorageOS node is exported")
	assert.Equal(t, 1.0, m.Get("storageos_cluster_storageos_nodes", of(map[string]string{"health": "online"})))
	assert.Equal(t, 0.0, m.Get("storageos_cluster_node_healthy", of(map[string]string{"node": "node-m2", "component": "node"})))
	assert.Equal(t, 1.0, m.Get("storageos_cluster_node_healthy", of(map[string]string{"node": "node-m1", "component": "node"})))
	// An offline node's components are reported unknown, so not healthy either.
	assert.Equal(t, 0.0, m.Get("storageos_cluster_node_healthy", of(map[string]string{"node": "node-m2", "component": "rdb"})))
	m = envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_cluster_", func(m envtest.Metrics) bool {
		return m.Get("storageos_cluster_status_condition", of(map[string]string{"condition": "NodesHealthy", "status": "False"})) == 1
	}, "NodesHealthy is exported False")
	assert.Equal(t, 0.0, m.Get("storageos_cluster_status_condition", of(map[string]string{"condition": "NodesHealthy", "status": "True"})))
	t.Logf("scraped:\n%s", m.Samples("storageos_cluster_"))
}
