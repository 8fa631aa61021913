package cluster

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

// A cluster's status in, its samples out, without an API server.

func TestParseReady(t *testing.T) {
	for _, tc := range []struct {
		in         string
		n, m       int
		ok         bool
		whyNothing string
	}{
		{in: "3/3", n: 3, m: 3, ok: true},
		{in: "1/3", n: 1, m: 3, ok: true},
		{in: "0/0", n: 0, m: 0, ok: true},
		{in: "", whyNothing: "status not written yet"},
		{in: "3", whyNothing: "no desired count"},
		{in: "a/3", whyNothing: "not a number"},
		{in: "-1/3", whyNothing: "negative"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, m, ok := parseReady(tc.in)
			assert.Equal(t, tc.ok, ok, tc.whyNothing)
			assert.Equal(t, tc.n, n)
			assert.Equal(t, tc.m, m)
		})
	}
}

func TestComponentHealth(t *testing.T) {
	all := func(state string) storageosv1.NodeHealth {
		return storageosv1.NodeHealth{Health: "online", DirectfsInitiator: state, Director: state, KV: state, KVWrite: state,
			Nats: state, Presentation: state, Rdb: state}
	}
	components := func(healthy bool) []health {
		return []health{{"directfsInitiator", healthy}, {"director", healthy}, {"kv", healthy}, {"kvWrite", healthy},
			{"nats", healthy}, {"presentation", healthy}, {"rdb", healthy}}
	}
	offline := all("unknown")
	offline.Health = "offline"
	deadKV := all("alive")
	deadKV.KVWrite = "dead"
	for _, tc := range []struct {
		name string
		in   storageosv1.NodeHealth
		want []health
	}{
		{"online, all alive", all("alive"), append([]health{{"node", true}}, components(true)...)},
		{"offline, components unknown", offline, append([]health{{"node", false}}, components(false)...)},
		{"one component dead", deadKV, []health{{"node", true}, {"directfsInitiator", true}, {"director", true}, {"kv", true},
			{"kvWrite", false}, {"nats", true}, {"presentation", true}, {"rdb", true}}},
		{"components not reported export nothing", storageosv1.NodeHealth{Health: "online", Rdb: "alive"},
			[]health{{"node", true}, {"rdb", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, componentHealth(tc.in))
		})
	}
}

// collect runs the cluster collector over clusters held in a fake cache, as the elected leader does.
func collect(t *testing.T, expected string, clusters ...client.Object) {
	t.Helper()
	reader := fake.NewClientBuilder().WithScheme(manager.NewScheme()).WithObjects(clusters...).Build()
	require.NoError(t, testutil.CollectAndCompare(newClusterCollector(reader, nil), strings.NewReader(expected)))
}

func TestClusterSamples(t *testing.T) {
	const help = `
# HELP storageos_cluster_node_healthy 1 when a StorageOS node (component=node: online) or one of its components (alive) is healthy, 0 otherwise.
# TYPE storageos_cluster_node_healthy gauge
# HELP storageos_cluster_nodes_desired StorageOS node pods the node DaemonSet wants (M of status.ready N/M).
# TYPE storageos_cluster_nodes_desired gauge
# HELP storageos_cluster_nodes_ready Ready StorageOS node pods (N of status.ready N/M).
# TYPE storageos_cluster_nodes_ready gauge
# HELP storageos_cluster_status_condition 1 for the status of each of the cluster's conditions, 0 for the other statuses.
# TYPE storageos_cluster_status_condition gauge
# HELP storageos_cluster_status_phase 1 for the cluster's current status.phase, 0 for the other phases.
# TYPE storageos_cluster_status_phase gauge
# HELP storageos_cluster_storageos_nodes StorageOS nodes by the health the StorageOS API reports: online, offline or unknown.
# TYPE storageos_cluster_storageos_nodes gauge
`
	t.Run("new cluster without status", func(t *testing.T) {
		// Every phase 0 (none is current yet), every health 0; no node counts and no condition to read.
		collect(t, help+`
storageos_cluster_status_phase{name="new",namespace="ns",phase="Creating"} 0
storageos_cluster_status_phase{name="new",namespace="ns",phase="Pending"} 0
storageos_cluster_status_phase{name="new",namespace="ns",phase="Running"} 0
storageos_cluster_status_phase{name="new",namespace="ns",phase="Terminating"} 0
storageos_cluster_storageos_nodes{health="offline",name="new",namespace="ns"} 0
storageos_cluster_storageos_nodes{health="online",name="new",namespace="ns"} 0
storageos_cluster_storageos_nodes{health="unknown",name="new",namespace="ns"} 0
`, &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "new"}})
	})

	t.Run("running cluster with an offline node", func(t *testing.T) {
		c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "storageos"},
			Status: storageosv1.StorageOSClusterStatus{
				Phase: storageosv1.ClusterPhaseRunning,
				Ready: "1/2",
				NodeHealthStatus: map[string]storageosv1.NodeHealth{
					"node-a": {Health: "online", KV: "alive", Rdb: "alive"},
					"node-b": {Health: "offline", KV: "unknown"},
				},
				NodeCounts: &storageosv1.NodeCounts{Nodes: 2, Ready: 1, Unready: 1, Online: 1, Offline: 1, Unhealthy: 1},
				Conditions: []metav1.Condition{
					{Type: ConditionAvailable, Status: metav1.ConditionTrue},
					{Type: ConditionNodesHealthy, Status: metav1.ConditionFalse},
					{Type: ConditionAPIReady, Status: metav1.ConditionUnknown},
				},
			}}
		collect(t, help+`
storageos_cluster_node_healthy{component="kv",name="storageos",namespace="ns",node="node-a"} 1
storageos_cluster_node_healthy{component="kv",name="storageos",namespace="ns",node="node-b"} 0
storageos_cluster_node_healthy{component="node",name="storageos",namespace="ns",node="node-a"} 1
storageos_cluster_node_healthy{component="node",name="storageos",namespace="ns",node="node-b"} 0
storageos_cluster_node_healthy{component="rdb",name="storageos",namespace="ns",node="node-a"} 1
storageos_cluster_nodes_desired{name="storageos",namespace="ns"} 2
storageos_cluster_nodes_ready{name="storageos",namespace="ns"} 1
storageos_cluster_status_condition{condition="APIReady",name="storageos",namespace="ns",status="False"} 0
storageos_cluster_status_condition{condition="APIReady",name="storageos",namespace="ns",status="True"} 0
storageos_cluster_status_condition{condition="APIReady",name="storageos",namespace="ns",status="Unknown"} 1
storageos_cluster_status_condition{condition="Available",name="storageos",namespace="ns",status="False"} 0
storageos_cluster_status_condition{condition="Available",name="storageos",namespace="ns",status="True"} 1
storageos_cluster_status_condition{condition="Available",name="storageos",namespace="ns",status="Unknown"} 0
storageos_cluster_status_condition{condition="NodesHealthy",name="storageos",namespace="ns",status="False"} 1
storageos_cluster_status_condition{condition="NodesHealthy",name="storageos",namespace="ns",status="True"} 0
storageos_cluster_status_condition{condition="NodesHealthy",name="storageos",namespace="ns",status="Unknown"} 0
storageos_cluster_status_phase{name="storageos",namespace="ns",phase="Creating"} 0
storageos_cluster_status_phase{name="storageos",namespace="ns",phase="Pending"} 0
storageos_cluster_status_phase{name="storageos",namespace="ns",phase="Running"} 1
storageos_cluster_status_phase{name="storageos",namespace="ns",phase="Terminating"} 0
storageos_cluster_storageos_nodes{health="offline",name="storageos",namespace="ns"} 1
storageos_cluster_storageos_nodes{health="online",name="storageos",namespace="ns"} 1
storageos_cluster_storageos_nodes{health="unknown",name="storageos",namespace="ns"} 0
`, c)
	})
}
