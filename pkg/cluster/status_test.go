package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The status computation without an API server: what a reconcile observed in, status out.

func nodePod(node string, ready bool) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
}

func nodeDaemonSet(want, ready, updated int32) appsv1.DaemonSet {
	return appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 2},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: want, NumberReady: ready, UpdatedNumberScheduled: updated}}
}

// healthy is a fully running deployment of three nodes; cases change one thing of it.
func healthy() *observation {
	return &observation{
		daemonSet: nodeDaemonSet(3, 3, 3),
		pods:      []corev1.Pod{nodePod("node-c", true), nodePod("node-a", true), nodePod("node-b", true), nodePod("", false)},
		csi:       &workloadObservation{name: "storageos-statefulset", found: true, ready: 1, want: 1},
		scheduler: &workloadObservation{name: "storageos-scheduler", found: true, ready: 1, want: 1},
		api: apiObservation{asked: true, nodes: []storageos.Node{
			{Name: "node-a", Health: storageos.NodeHealthOnline}, {Name: "node-b", Health: storageos.NodeHealthOnline}}},
	}
}

type wantCondition struct {
	status metav1.ConditionStatus
	reason string
	// message, when set, must be contained in the condition's message.
	message string
}

func TestSetStatus(t *testing.T) {
	previous := []metav1.Condition{{Type: ConditionCSIReady, Status: metav1.ConditionFalse, Reason: "Earlier", ObservedGeneration: 6}}
	cases := []struct {
		name       string
		scope      func(s *scope)
		phase      storageosv1.ClusterPhase
		ready      string
		conditions map[string]wantCondition
		observed   bool // status.observedGeneration follows the generation
	}{
		{"running", func(s *scope) { s.observed = healthy() }, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionAvailable: {metav1.ConditionTrue, ReasonReady, ""}, ConditionProgressing: {metav1.ConditionFalse, ReasonReady, ""},
			ConditionDegraded: {metav1.ConditionFalse, ReasonAsExpected, ""}, ConditionNodesUpToDate: {metav1.ConditionTrue, ReasonUpToDate, ""},
			ConditionAPIReady: {metav1.ConditionTrue, ReasonReady, "2 StorageOS nodes reported"},
			ConditionCSIReady: {metav1.ConditionTrue, ReasonReady, "1/1 storageos-statefulset"},
		}, true},
		{"no eligible node", func(s *scope) {
			s.observed = healthy()
			s.observed.daemonSet, s.observed.pods, s.observed.api = nodeDaemonSet(0, 0, 0), nil, apiObservation{}
		}, storageosv1.ClusterPhaseCreating, "0/0", map[string]wantCondition{
			ConditionNodeReady: {metav1.ConditionFalse, ReasonNoNodes, "nodeSelectorTerms"},
			ConditionAPIReady:  {metav1.ConditionUnknown, ReasonAPIWaiting, ""},
			ConditionAvailable: {metav1.ConditionFalse, ReasonNotReady, ""}, ConditionProgressing: {metav1.ConditionTrue, ReasonApplying, ""},
			ConditionDegraded: {metav1.ConditionFalse, ReasonAsExpected, ""},
		}, true},
		{"node pods starting", func(s *scope) {
			s.observed = healthy()
			s.observed.daemonSet = nodeDaemonSet(3, 1, 3)
		}, storageosv1.ClusterPhaseCreating, "1/3", map[string]wantCondition{
			ConditionNodeReady: {metav1.ConditionFalse, ReasonNotReady, "1/3 StorageOS node pods ready"},
		}, true},
		{"the namespace's Pod Security level rejects the node pods", func(s *scope) {
			s.observed, s.cluster.Spec.Namespace = healthy(), "storage"
			s.observed.daemonSet, s.observed.podSecurity = nodeDaemonSet(3, 0, 3), "baseline"
		}, storageosv1.ClusterPhaseCreating, "0/3", map[string]wantCondition{
			ConditionNodeReady: {metav1.ConditionFalse, ReasonPodSecurityForbidden,
				`0/3 StorageOS node pods ready: namespace storage enforces the Pod Security level "baseline" (label pod-security.kubernetes.io/enforce)`},
			ConditionDegraded: {metav1.ConditionTrue, ReasonReconcileFailed,
				"label it pod-security.kubernetes.io/enforce=privileged, e.g. kubectl label namespace storage pod-security.kubernetes.io/enforce=privileged --overwrite"},
		}, true},
		{"node pods admitted before the namespace was restricted: degraded, not unready", func(s *scope) {
			s.observed, s.cluster.Spec.Namespace = healthy(), "storage"
			s.observed.podSecurity = "restricted"
		}, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionNodeReady: {metav1.ConditionTrue, ReasonReady, ""},
			ConditionAvailable: {metav1.ConditionTrue, ReasonReady, ""},
			ConditionDegraded:  {metav1.ConditionTrue, ReasonReconcileFailed, `namespace storage enforces the Pod Security level "restricted"`},
		}, true},
		{"no eligible node is not blamed on Pod Security", func(s *scope) {
			s.observed = healthy()
			s.observed.daemonSet, s.observed.pods, s.observed.podSecurity = nodeDaemonSet(0, 0, 0), nil, "baseline"
		}, storageosv1.ClusterPhaseCreating, "0/0", map[string]wantCondition{
			ConditionNodeReady: {metav1.ConditionFalse, ReasonNoNodes, ""},
		}, true},
		{"outdated node pods wait for a restart", func(s *scope) {
			s.observed = healthy()
			s.observed.daemonSet = nodeDaemonSet(3, 3, 1)
		}, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionNodesUpToDate: {metav1.ConditionFalse, ReasonRestartPending, "2 StorageOS node pods run an outdated template"},
		}, true},
		{"credentials rejected", func(s *scope) {
			s.observed = healthy()
			s.observed.api = apiObservation{asked: true, err: fmt.Errorf("login: %w", storageos.ErrUnauthorized)}
		}, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionAPIReady: {metav1.ConditionFalse, ReasonCredentialsInvalid, "secretRefName"},
			ConditionDegraded: {metav1.ConditionTrue, ReasonReconcileFailed, "APIReady: the StorageOS API rejected"},
		}, true},
		{"API unreachable", func(s *scope) {
			s.observed = healthy()
			s.observed.api = apiObservation{asked: true, err: errors.New("connection refused")}
		}, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionAPIReady: {metav1.ConditionFalse, ReasonAPIUnreachable, "connection refused"},
			ConditionDegraded: {metav1.ConditionTrue, ReasonReconcileFailed, "connection refused"},
		}, true},
		{"CSI disabled, scheduler not created yet", func(s *scope) {
			s.observed = healthy()
			s.observed.csi, s.observed.scheduler = nil, &workloadObservation{name: "storageos-scheduler"}
		}, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionCSIReady:       {metav1.ConditionTrue, ReasonDisabled, ""},
			ConditionSchedulerReady: {metav1.ConditionFalse, ReasonNotReady, "not created yet"},
			ConditionProgressing:    {metav1.ConditionTrue, ReasonApplying, ""},
			ConditionDegraded:       {metav1.ConditionFalse, ReasonAsExpected, ""},
		}, true},
		{"reconcile failed before observing", func(s *scope) { s.err = errors.New("the API secret lacks apiPassword") },
			storageosv1.ClusterPhasePending, "", map[string]wantCondition{
				ConditionDegraded:    {metav1.ConditionTrue, ReasonReconcileFailed, "lacks apiPassword"},
				ConditionProgressing: {metav1.ConditionTrue, ReasonApplying, ""},
				ConditionCSIReady:    {metav1.ConditionFalse, "Earlier", ""},
			}, false},
		{"paused", func(s *scope) { s.observed, s.paused = healthy(), true }, storageosv1.ClusterPhaseRunning, "3/3", map[string]wantCondition{
			ConditionProgressing: {metav1.ConditionFalse, ReasonPaused, "spec.pause"},
		}, true},
		{"another cluster is active", func(s *scope) { s.blockedBy = "other/first" }, storageosv1.ClusterPhasePending, "", map[string]wantCondition{
			ConditionAvailable:   {metav1.ConditionFalse, ReasonAnotherCluster, "other/first already runs StorageOS"},
			ConditionProgressing: {metav1.ConditionFalse, ReasonAnotherCluster, ""},
			ConditionDegraded:    {metav1.ConditionTrue, ReasonAnotherCluster, ""},
		}, false},
		{"deleting", func(s *scope) { s.deleting = true }, storageosv1.ClusterPhaseTerminating, "", map[string]wantCondition{
			ConditionAvailable: {metav1.ConditionFalse, ReasonDeleting, ""},
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Generation: 7}}
			c.Status.ObservedGeneration = 6
			c.Status.Conditions = append([]metav1.Condition(nil), previous...)
			s := newScope(c)
			tc.scope(s)
			setStatus(s)

			assert.Equal(t, tc.phase, c.Status.Phase)
			assert.Equal(t, tc.ready, c.Status.Ready)
			for typ, want := range tc.conditions {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				if !assert.NotNil(t, got, typ) {
					continue
				}
				assert.Equal(t, want.status, got.Status, typ)
				assert.Equal(t, want.reason, got.Reason, typ)
				assert.Contains(t, got.Message, want.message, typ)
				if got.Reason != "Earlier" {
					assert.Equal(t, int64(7), got.ObservedGeneration, "%s is stamped with the generation it describes", typ)
				}
			}
			if tc.observed {
				assert.Equal(t, int64(7), c.Status.ObservedGeneration)
			} else {
				assert.Equal(t, int64(6), c.Status.ObservedGeneration, "a reconcile that did not succeed does not claim the generation")
			}
		})
	}
}

func TestSetStatusMembersAndHealth(t *testing.T) {
	c := &storageosv1.StorageOSCluster{}
	s := newScope(c)
	s.observed = healthy()
	s.observed.pods[1] = nodePod("node-a", false)
	s.observed.api.nodes[1].Health = storageos.NodeHealthOffline
	setStatus(s)
	assert.Equal(t, []string{"node-a", "node-b", "node-c"}, c.Status.Nodes, "scheduled node pods, sorted")
	assert.Equal(t, storageosv1.MembersStatus{Ready: []string{"node-b", "node-c"}, Unready: []string{"node-a"}}, c.Status.Members)
	assert.Equal(t, map[string]storageosv1.NodeHealth{"node-a": {Health: "online"}, "node-b": {Health: "offline"}}, c.Status.NodeHealthStatus)
}

// nodeHealthStatus carries the original's per-component fields, and NodesHealthy names the node and component
// that is not well (which makes the cluster Degraded).
func TestNodeComponentHealth(t *testing.T) {
	alive := storageos.NodeComponents{DirectfsInitiator: "alive", Director: "alive", KV: "alive", KVWrite: "alive",
		Nats: "alive", Presentation: "alive", Rdb: "alive"}
	cases := []struct {
		name    string
		nodes   []storageos.Node
		status  metav1.ConditionStatus
		message string
	}{
		{"all alive", []storageos.Node{{Name: "a", Health: "online", Components: alive}, {Name: "b", Health: "online", Components: alive}},
			metav1.ConditionTrue, "every StorageOS node is online with every component alive"},
		{"components not reported count as fine", []storageos.Node{{Name: "a", Health: "online"}}, metav1.ConditionTrue, "every"},
		{"one component down", []storageos.Node{{Name: "a", Health: "online", Components: alive},
			{Name: "b", Health: "online", Components: func() storageos.NodeComponents { c := alive; c.Rdb = "unknown"; return c }()}},
			metav1.ConditionFalse, "b: rdb unknown"},
		{"offline and kv read-only, nodes sorted", []storageos.Node{
			{Name: "z", Health: "offline"},
			{Name: "m", Health: "online", Components: func() storageos.NodeComponents { c := alive; c.KVWrite = "dead"; c.Nats = "unknown"; return c }()}},
			metav1.ConditionFalse, "m: kvWrite dead, nats unknown; z: offline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{}
			s := newScope(c)
			s.observed = healthy()
			s.observed.api.nodes = tc.nodes
			setStatus(s)
			cond := meta.FindStatusCondition(c.Status.Conditions, ConditionNodesHealthy)
			require.NotNil(t, cond)
			assert.Equal(t, tc.status, cond.Status)
			assert.Contains(t, cond.Message, tc.message)
			degraded := meta.FindStatusCondition(c.Status.Conditions, ConditionDegraded)
			assert.Equal(t, tc.status == metav1.ConditionFalse, degraded.Status == metav1.ConditionTrue, degraded.Message)
			for _, n := range tc.nodes {
				assert.Equal(t, n.Components.Rdb, c.Status.NodeHealthStatus[n.Name].Rdb)
				assert.Equal(t, n.Components.KVWrite, c.Status.NodeHealthStatus[n.Name].KVWrite)
			}
		})
	}
}

// Fields of the original that do nothing on v2 are reported, not silently dropped; status.images shows what runs.
func TestSpecStatus(t *testing.T) {
	c := &storageosv1.StorageOSCluster{Spec: storageosv1.StorageOSClusterSpec{Join: "10.0.0.1"}}
	s := newScope(c)
	s.observed = healthy()
	setStatus(s)
	cond := meta.FindStatusCondition(c.Status.Conditions, ConditionFieldsIgnored)
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionTrue, cond.Status)
	assert.Contains(t, cond.Message, "spec.join have no effect on StorageOS v2")
	assert.Empty(t, c.Status.Images, "no input built: nothing claimed about images")

	c.Spec.Join = ""
	kube := version.MustParseGeneric("1.37.2")
	s.input = desired.Input{Cluster: c, KubeVersion: kube, Images: desired.ResolveImages(c.Spec.Images, kube,
		func(name string) string {
			return map[string]string{desired.EnvNodeImage: "mirror.local/node:v2.1.0"}[name]
		})}
	setStatus(s)
	assert.False(t, meta.IsStatusConditionTrue(c.Status.Conditions, ConditionFieldsIgnored))
	assert.EqualValues(t, "mirror.local/node:v2.1.0", c.Status.Images.NodeContainer)
	assert.EqualValues(t, desired.DefaultInitImage, c.Status.Images.InitContainer)
}

// The status stays small whatever the cluster's size: complete node lists up to NodeListMax StorageOS nodes, as
// the original wrote them; beyond, the counts and the nodes to look at only. At 5,000 nodes a status naming
// every node with its components' health was about 1.6 MB, past what etcd stores in one object.
func TestStatusStaysSmallAtAnySize(t *testing.T) {
	alive := storageos.NodeComponents{DirectfsInitiator: "alive", Director: "alive", KV: "alive", KVWrite: "alive",
		Nats: "alive", Presentation: "alive", Rdb: "alive"}
	for _, n := range []int{3, storageosv1.NodeListMax, storageosv1.NodeListMax + 1, 250, 1000, 5000} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			o := healthy()
			o.pods, o.api.nodes = nil, nil
			var unready, unhealthy int32
			for i := range n {
				name := fmt.Sprintf("ip-10-0-%03d-%03d.eu-west-1.compute.internal", i/250, i%250)
				ready := i%10 != 0 // every tenth node pod is not ready
				if !ready {
					unready++
				}
				o.pods = append(o.pods, nodePod(name, ready))
				node := storageos.Node{Name: name, Health: storageos.NodeHealthOnline, Components: alive}
				switch i % 50 {
				case 1:
					node.Health = storageos.NodeHealthOffline
					unhealthy++
				case 2:
					node.Components.Rdb = "unknown"
					unhealthy++
				}
				o.api.nodes = append(o.api.nodes, node)
			}
			o.daemonSet = nodeDaemonSet(int32(n), int32(n)-unready, int32(n))
			c := &storageosv1.StorageOSCluster{}
			s := newScope(c)
			s.observed = o
			setStatus(s)

			st := c.Status
			require.NotNil(t, st.NodeCounts)
			offline := int32((n + 48) / 50)
			assert.Equal(t, storageosv1.NodeCounts{Nodes: int32(n), Ready: int32(n) - unready, Unready: unready,
				Online: int32(n) - offline, Offline: offline, Unhealthy: unhealthy}, *st.NodeCounts)
			if n <= storageosv1.NodeListMax {
				assert.Len(t, st.Nodes, n, "every node named, as the original did")
				assert.Len(t, st.Members.Ready, n-int(unready))
				assert.Len(t, st.Members.Unready, int(unready))
				assert.Len(t, st.NodeHealthStatus, n)
			} else {
				assert.Empty(t, st.Nodes)
				assert.Empty(t, st.Members.Ready)
				assert.Len(t, st.Members.Unready, min(int(unready), storageosv1.NodeListMax), "the unready ones, first by name")
				assert.Len(t, st.NodeHealthStatus, min(int(unhealthy), storageosv1.NodeListMax), "the unhealthy ones, first by name")
				for name, h := range st.NodeHealthStatus {
					assert.NotEmpty(t, nodeProblems(h), "%s is named, so it is not well", name)
				}
			}
			cond := meta.FindStatusCondition(st.Conditions, ConditionNodesHealthy)
			require.NotNil(t, cond)
			assert.Less(t, len(cond.Message), 2048, "the condition names a few nodes and counts the rest")
			if int(unhealthy) > unhealthyNamed {
				assert.Contains(t, cond.Message, fmt.Sprintf("and %d more of %d StorageOS nodes", int(unhealthy)-unhealthyNamed, n))
			} else {
				assert.NotContains(t, cond.Message, "more of", "every unhealthy node is named: none to count")
			}
			size, err := json.Marshal(st)
			require.NoError(t, err)
			t.Logf("status of %d nodes: %d bytes", n, len(size))
			assert.Less(t, len(size), 64<<10, "the status stays small")
		})
	}
}

// nodeCounts count every health the API may report (one it may add, or none, as unknown), and hold while the
// API is not asked or fails; a status written before nodeCounts existed starts from its nodeHealthStatus.
func TestNodeCounts(t *testing.T) {
	t.Run("every health, and those not well", func(t *testing.T) {
		c := &storageosv1.StorageOSCluster{}
		s := newScope(c)
		s.observed = healthy()
		s.observed.api.nodes = []storageos.Node{{Name: "a", Health: "online"}, {Name: "b", Health: "offline"},
			{Name: "c", Health: "degraded"}, {Name: "d"}, {Name: "e", Health: "online", Components: storageos.NodeComponents{Rdb: "unknown"}}}
		setStatus(s)
		assert.Equal(t, storageosv1.NodeCounts{Nodes: 3, Ready: 3, Online: 2, Offline: 1, Unknown: 2, Unhealthy: 4}, *c.Status.NodeCounts)
	})
	for _, api := range []apiObservation{{asked: false}, {asked: true, err: errors.New("connection refused")}} {
		t.Run(fmt.Sprintf("a status of the previous version, API asked %v, error %v", api.asked, api.err), func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{Status: storageosv1.StorageOSClusterStatus{NodeHealthStatus: map[string]storageosv1.NodeHealth{
				"node-a": {Health: "online"}, "node-b": {Health: "offline"}}}}
			s := newScope(c)
			s.observed = healthy()
			s.observed.api = api
			setStatus(s)
			assert.Equal(t, storageosv1.NodeCounts{Nodes: 3, Ready: 3, Online: 1, Offline: 1, Unhealthy: 1}, *c.Status.NodeCounts,
				"the offline node is still counted")
		})
	}
}

func TestReadinessEvent(t *testing.T) {
	status := func(ready string, nodesReady metav1.ConditionStatus) *storageosv1.StorageOSClusterStatus {
		return &storageosv1.StorageOSClusterStatus{Ready: ready,
			Conditions: []metav1.Condition{{Type: ConditionNodeReady, Status: nodesReady}}}
	}
	healthy := &clusterEvent{corev1.EventTypeNormal, EventChangedStatus, "3/3 StorageOS nodes are functional. Cluster healthy"}
	tests := []struct {
		name          string
		before, after *storageosv1.StorageOSClusterStatus
		large         bool
		want          *clusterEvent
	}{
		{"no change, no event", status("3/3", metav1.ConditionTrue), status("3/3", metav1.ConditionTrue), false, nil},
		{"a node pod down", status("3/3", metav1.ConditionTrue), status("2/3", metav1.ConditionFalse), false,
			&clusterEvent{corev1.EventTypeWarning, EventChangedStatus, "2/3 StorageOS nodes are functional"}},
		{"each change of the count, as the original", status("2/3", metav1.ConditionFalse), status("1/3", metav1.ConditionFalse), false,
			&clusterEvent{corev1.EventTypeWarning, EventChangedStatus, "1/3 StorageOS nodes are functional"}},
		{"all back", status("2/3", metav1.ConditionFalse), status("3/3", metav1.ConditionTrue), false, healthy},
		{"the first status", &storageosv1.StorageOSClusterStatus{}, status("3/3", metav1.ConditionTrue), false, healthy},
		{"no count yet", status("3/3", metav1.ConditionTrue), status("", metav1.ConditionFalse), false, nil},
		{"large: going from all ready to not", status("5000/5000", metav1.ConditionTrue), status("4999/5000", metav1.ConditionFalse), true,
			&clusterEvent{corev1.EventTypeWarning, EventChangedStatus, "4999/5000 StorageOS nodes are functional"}},
		{"large: the count changing while not all are ready", status("4999/5000", metav1.ConditionFalse), status("4998/5000", metav1.ConditionFalse), true, nil},
		{"large: all ready again", status("4999/5000", metav1.ConditionFalse), status("5000/5000", metav1.ConditionTrue), true,
			&clusterEvent{corev1.EventTypeNormal, EventChangedStatus, "5000/5000 StorageOS nodes are functional. Cluster healthy"}},
		{"large: a node joining a healthy cluster", status("5000/5000", metav1.ConditionTrue), status("5001/5001", metav1.ConditionTrue), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readinessEvent(tt.before, tt.after, tt.large))
		})
	}
}
