package cluster

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/metrics"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The metrics of every StorageOSCluster, read from its status when Prometheus scrapes: what the status says is
// what alerts see, so `kubectl get storageoscluster` and a dashboard never disagree.
var (
	clusterPhaseDesc = metrics.NewDesc("storageos_cluster_status_phase",
		"1 for the cluster's current status.phase, 0 for the other phases.", "phase")
	clusterNodesDesiredDesc = metrics.NewDesc("storageos_cluster_nodes_desired",
		"StorageOS node pods the node DaemonSet wants (M of status.ready N/M).")
	clusterNodesReadyDesc = metrics.NewDesc("storageos_cluster_nodes_ready",
		"Ready StorageOS node pods (N of status.ready N/M).")
	clusterStorageOSNodesDesc = metrics.NewDesc("storageos_cluster_storageos_nodes",
		"StorageOS nodes by the health the StorageOS API reports: online, offline or unknown.", "health")
	clusterNodeHealthyDesc = metrics.NewDesc("storageos_cluster_node_healthy",
		"1 when a StorageOS node (component=node: online) or one of its components (alive) is healthy, 0 otherwise.",
		"node", "component")
	clusterConditionDesc = metrics.NewDesc("storageos_cluster_status_condition",
		"1 for the status of each of the cluster's conditions, 0 for the other statuses.", "condition", "status")
)

// clusterPhases are every phase, so that the phase left is exported as 0 at once.
var clusterPhases = []string{string(storageosv1.ClusterPhaseCreating), string(storageosv1.ClusterPhaseRunning),
	string(storageosv1.ClusterPhasePending), string(storageosv1.ClusterPhaseTerminating)}

var conditionStatuses = []string{string(metav1.ConditionTrue), string(metav1.ConditionFalse), string(metav1.ConditionUnknown)}

// componentNode is the component label of a StorageOS node's overall health.
const componentNode = "node"

// registerMetrics exports the clusters in mgr's cache, while this replica leads.
func registerMetrics(mgr ctrl.Manager) error {
	return metrics.Register(newClusterCollector(mgr.GetCache(), mgr.Elected()))
}

// newClusterCollector collects the clusters reader lists; elected as metrics.NewObjectCollector takes it.
func newClusterCollector(reader client.Reader, elected <-chan struct{}) *metrics.ObjectCollector {
	return metrics.NewObjectCollector(reader, elected,
		func() client.ObjectList { return &storageosv1.StorageOSClusterList{} },
		[]*prometheus.Desc{clusterPhaseDesc, clusterNodesDesiredDesc, clusterNodesReadyDesc, clusterStorageOSNodesDesc,
			clusterNodeHealthyDesc, clusterConditionDesc},
		emitCluster)
}

// emitCluster writes the samples of one cluster's status.
func emitCluster(o client.Object, e metrics.Emitter) {
	c, ok := o.(*storageosv1.StorageOSCluster)
	if !ok {
		return
	}
	s := c.Status
	e.StateSet(clusterPhaseDesc, string(s.Phase), clusterPhases)
	if ready, desired, ok := parseReady(s.Ready); ok {
		e.Gauge(clusterNodesDesiredDesc, float64(desired))
		e.Gauge(clusterNodesReadyDesc, float64(ready))
	}
	// A status written before nodeCounts existed (by the previous version, until the first reconcile) is counted
	// from its nodeHealthStatus, then complete: the offline count an alert waits on does not drop to 0.
	var n storageosv1.NodeCounts
	if s.NodeCounts != nil {
		n = *s.NodeCounts
	} else {
		n, _ = healthCounts(s.NodeHealthStatus)
	}
	for _, c := range []struct {
		health storageosv1.NodeHealthState
		count  int32
	}{{storageosv1.NodeHealthOnline, n.Online}, {storageosv1.NodeHealthOffline, n.Offline}, {storageosv1.NodeHealthUnknown, n.Unknown}} {
		e.Gauge(clusterStorageOSNodesDesc, float64(c.count), string(c.health))
	}
	// Every node of a small cluster; of a large one, those not well (status.nodeHealthStatus names no more), so
	// that the series stay few at 5,000 nodes.
	for node, h := range s.NodeHealthStatus {
		for _, comp := range componentHealth(h) {
			e.Gauge(clusterNodeHealthyDesc, metrics.Bool(comp.healthy), node, comp.name)
		}
	}
	for _, cond := range s.Conditions {
		e.StateSet(clusterConditionDesc, string(cond.Status), conditionStatuses, cond.Type)
	}
}

// parseReady reads status.ready, "N/M": N ready node pods of M desired. A status not written yet (or written by
// something else) exports no node counts rather than a made-up 0.
func parseReady(ready string) (n, m int, ok bool) {
	before, after, found := strings.Cut(ready, "/")
	if !found {
		return 0, 0, false
	}
	n, errN := strconv.Atoi(before)
	m, errM := strconv.Atoi(after)
	if errN != nil || errM != nil || n < 0 || m < 0 {
		return 0, 0, false
	}
	return n, m, true
}

// health is whether one part of a StorageOS node is healthy.
type health struct {
	name    string
	healthy bool
}

// componentHealth is the health of a StorageOS node (online) and of each component the API reported (alive).
// A component the API does not report exports no series, as the NodesHealthy condition does not count it
// against the node: a 0 would page for a component that may not exist in that StorageOS version.
func componentHealth(h storageosv1.NodeHealth) []health {
	out := []health{{componentNode, h.Health == storageosv1.NodeHealthOnline}}
	for _, c := range components(h) {
		if c.state != "" {
			out = append(out, health{c.name, c.state == storageos.ComponentAlive})
		}
	}
	return out
}
