//go:build !mutation

package nodelabels_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/nodelabels"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

const (
	// timeout is generous: the machine running the tests may be loaded.
	timeout = 60 * time.Second
	tick    = 100 * time.Millisecond
	// quiet is how long a test watches for calls that must not happen.
	quiet = 2 * time.Second
)

type labels = map[string]string

// The sync adds and updates the Kubernetes labels, removes again those it added once Kubernetes drops them, and
// leaves the labels set through StorageOS alone.
func TestLabelsFollowKubernetes(t *testing.T) {
	sim.SetNodes(storageos.Node{ID: "id-follow", Name: "follow", Health: storageos.NodeHealthOnline,
		Labels: labels{"storageos.com/computeonly": "true", "tier": "gold"}})
	kubeNode(t, "follow", labels{"zone": "a", "kubernetes.io/hostname": "follow"})
	eventuallyLabels(t, "follow", labels{"zone": "a", "kubernetes.io/hostname": "follow",
		"storageos.com/computeonly": "true", "tier": "gold"})
	assert.Equal(t, "kubernetes.io/hostname,zone", syncedAnnotation(t, "follow"))

	patchLabels(t, "follow", func(l labels) { l["zone"], l["rack"] = "b", "1" })
	eventuallyLabels(t, "follow", labels{"zone": "b", "rack": "1", "kubernetes.io/hostname": "follow",
		"storageos.com/computeonly": "true", "tier": "gold"})

	patchLabels(t, "follow", func(l labels) { delete(l, "rack") })
	eventuallyLabels(t, "follow", labels{"zone": "b", "kubernetes.io/hostname": "follow",
		"storageos.com/computeonly": "true", "tier": "gold"})
	assert.Equal(t, "kubernetes.io/hostname,zone", syncedAnnotation(t, "follow"))

	// A key Kubernetes takes over is overwritten and, once Kubernetes drops it, removed.
	patchLabels(t, "follow", func(l labels) { l["tier"] = "silver" })
	eventuallyLabels(t, "follow", labels{"zone": "b", "kubernetes.io/hostname": "follow",
		"storageos.com/computeonly": "true", "tier": "silver"})
	patchLabels(t, "follow", func(l labels) { delete(l, "tier") })
	eventuallyLabels(t, "follow", labels{"zone": "b", "kubernetes.io/hostname": "follow", "storageos.com/computeonly": "true"})
}

// A storageos.com/ label is written when the Kubernetes node carries it, and never removed.
func TestReservedKeys(t *testing.T) {
	sim.SetNodes(storageos.Node{ID: "id-reserved", Name: "reserved", Health: storageos.NodeHealthOnline,
		Labels: labels{"storageos.com/computeonly": "true"}})
	kubeNode(t, "reserved", labels{"storageos.com/computeonly": "false"})
	eventuallyLabels(t, "reserved", labels{"storageos.com/computeonly": "false"})
	assert.Empty(t, syncedAnnotation(t, "reserved"), "reserved keys are not recorded as removable")

	// Dropped from Kubernetes in the same edit as zone is added: once zone is synced, so is the drop.
	patchLabels(t, "reserved", func(l labels) { delete(l, "storageos.com/computeonly"); l["zone"] = "a" })
	eventuallyLabels(t, "reserved", labels{"storageos.com/computeonly": "false", "zone": "a"})
	assert.Equal(t, "zone", syncedAnnotation(t, "reserved"))
}

// Heartbeats cause no sync at all, and a sync leaves the nodes whose labels match without an API call.
func TestNoCallsWhenNothingChanged(t *testing.T) {
	sim.SetNodes(storageos.Node{ID: "id-quiet", Name: "quiet", Health: storageos.NodeHealthOnline},
		storageos.Node{ID: "id-busy", Name: "busy", Health: storageos.NodeHealthOnline})
	kubeNode(t, "quiet", labels{"zone": "a"})
	kubeNode(t, "busy", labels{"zone": "a"})
	eventuallyLabels(t, "quiet", labels{"zone": "a"})
	eventuallyLabels(t, "busy", labels{"zone": "a"})
	settle(t)

	// kubelet's heartbeat updates the status only.
	lists, reads, writes := sim.Requests("GET /v2/nodes"), requests.Reads(), requests.Writes()
	node := &corev1.Node{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Name: "quiet"}, node))
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}}
	require.NoError(t, testEnv.Client.Status().Update(context.Background(), node))
	assert.Never(t, func() bool {
		return sim.Requests("GET /v2/nodes") != lists || requests.Reads() != reads || requests.Writes() != writes
	}, quiet, tick, "a heartbeat started a sync")

	// Another node's change syncs every node; the one whose labels match gets no call.
	quietPuts, busyPuts := sim.Requests("PUT /v2/nodes/id-quiet"), sim.Requests("PUT /v2/nodes/id-busy")
	patchLabels(t, "busy", func(l labels) { l["zone"] = "b" })
	eventuallyLabels(t, "busy", labels{"zone": "b"})
	assert.Equal(t, quietPuts, sim.Requests("PUT /v2/nodes/id-quiet"), "unchanged labels were written")
	assert.Equal(t, busyPuts+1, sim.Requests("PUT /v2/nodes/id-busy"), "one change, one write")
}

// A node whose StorageOS node joins later is synced once the cluster-manager reports it in the cluster status.
func TestNodeJoiningLater(t *testing.T) {
	sim.SetNodes()
	kubeNode(t, "late", labels{"zone": "a"})
	settle(t) // the sync the node's creation started found no StorageOS node
	sim.SetNodes(storageos.Node{ID: "id-late", Name: "late", Health: storageos.NodeHealthOnline})
	updateCluster(t, func(c *storageosv1.StorageOSCluster) {
		c.Status.NodeHealthStatus = map[string]storageosv1.NodeHealth{"late": {Health: storageosv1.NodeHealthOnline}}
	})
	eventuallyLabels(t, "late", labels{"zone": "a"})
}

// On a cluster too large for its status to name every node, a node joining shows as one more in
// status.nodeCounts, and is synced then.
func TestNodeJoiningALargeCluster(t *testing.T) {
	sim.SetNodes()
	updateCluster(t, func(c *storageosv1.StorageOSCluster) {
		c.Status.NodeHealthStatus = nil // every node is well: a large cluster's status names none
		c.Status.NodeCounts = &storageosv1.NodeCounts{Nodes: storageosv1.NodeListMax, Ready: storageosv1.NodeListMax,
			Online: storageosv1.NodeListMax}
	})
	kubeNode(t, "late-large", labels{"zone": "a"})
	settle(t)
	sim.SetNodes(storageos.Node{ID: "id-late-large", Name: "late-large", Health: storageos.NodeHealthOnline})
	updateCluster(t, func(c *storageosv1.StorageOSCluster) {
		c.Status.NodeCounts = &storageosv1.NodeCounts{Nodes: storageosv1.NodeListMax + 1, Ready: storageosv1.NodeListMax + 1,
			Online: storageosv1.NodeListMax + 1}
	})
	eventuallyLabels(t, "late-large", labels{"zone": "a"})
}

// A failure someone must fix is a Warning event on the cluster, and the sync is retried until it succeeds.
func TestSyncFailuresAreReported(t *testing.T) {
	sim.SetNodes(storageos.Node{ID: "id-creds", Name: "creds", Health: storageos.NodeHealthOnline})
	sim.RejectCredentials(true)
	kubeNode(t, "creds", labels{"zone": "a"})
	require.Eventually(t, func() bool {
		for _, e := range clusterEvents(t) {
			if strings.HasPrefix(e, nodelabels.EventSyncFailed+": ") && strings.Contains(e, "rejected the credentials") {
				return true
			}
		}
		return false
	}, timeout, tick, "no Warning event; have %v", clusterEvents(t))
	for _, e := range clusterEvents(t) {
		assert.NotContains(t, e, creds.Password)
	}

	sim.RejectCredentials(false)
	eventuallyLabels(t, "creds", labels{"zone": "a"})
}

// While the cluster is paused its StorageOS nodes are left alone; unpausing syncs what changed meanwhile.
func TestPausedClusterIsLeftAlone(t *testing.T) {
	sim.SetNodes(storageos.Node{ID: "id-paused", Name: "paused", Health: storageos.NodeHealthOnline})
	kubeNode(t, "paused", labels{"zone": "a"})
	eventuallyLabels(t, "paused", labels{"zone": "a"})

	setPause(t, true)
	t.Cleanup(func() { setPause(t, false) })
	patchLabels(t, "paused", func(l labels) { l["zone"] = "b" })
	assert.Never(t, func() bool {
		n, _ := sim.Node("paused")
		return n.Labels["zone"] != "a"
	}, quiet, tick, "a paused cluster's node was written")

	setPause(t, false)
	eventuallyLabels(t, "paused", labels{"zone": "b"})
}

// settle waits until the controller has made no call for a while: the syncs the test's setup started are over.
func settle(t *testing.T) {
	t.Helper()
	calls := func() int64 { return int64(sim.Requests("GET /v2/nodes")) + requests.Reads() + requests.Writes() }
	require.Eventually(t, func() bool {
		before := calls()
		time.Sleep(quiet / 4)
		return calls() == before
	}, timeout, tick)
}

// kubeNode creates a Kubernetes node for the test; its creation starts a sync.
func kubeNode(t *testing.T, name string, l labels) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	require.NoError(t, testEnv.Client.Create(context.Background(), node))
	t.Cleanup(func() { _ = testEnv.Client.Delete(context.Background(), node) })
}

// patchLabels edits a Kubernetes node's labels with a merge patch, which the controller's annotation writes
// cannot conflict with.
func patchLabels(t *testing.T, name string, edit func(labels)) {
	t.Helper()
	node := &corev1.Node{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Name: name}, node))
	before := node.DeepCopy()
	edit(node.Labels)
	require.NoError(t, testEnv.Client.Patch(context.Background(), node, client.MergeFrom(before)))
}

func eventuallyLabels(t *testing.T, name string, want labels) {
	t.Helper()
	var got labels
	require.Eventually(t, func() bool {
		n, _ := sim.Node(name)
		got = n.Labels
		return maps.Equal(got, want)
	}, timeout, tick, "StorageOS node %s: want labels %v", name, want)
	assert.Equal(t, want, got)
}

func syncedAnnotation(t *testing.T, name string) string {
	t.Helper()
	node := &corev1.Node{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Name: name}, node))
	return node.Annotations[nodelabels.AnnotationSynced]
}

// updateCluster changes the running cluster's status, as the cluster-manager would.
func updateCluster(t *testing.T, mutate func(*storageosv1.StorageOSCluster)) {
	t.Helper()
	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(running), c))
	mutate(c)
	require.NoError(t, testEnv.Client.Status().Update(context.Background(), c))
}

// setPause sets spec.pause and waits until the controller's cache has it, so that what the test does next is
// seen with it.
func setPause(t *testing.T, pause bool) {
	t.Helper()
	ctx := context.Background()
	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(running), c))
	c.Spec.Pause = pause
	require.NoError(t, testEnv.Client.Update(ctx, c))
	require.Eventually(t, func() bool {
		seen := &storageosv1.StorageOSCluster{}
		return cached.Get(ctx, client.ObjectKeyFromObject(running), seen) == nil && seen.Spec.Pause == pause
	}, timeout, tick)
}

// clusterEvents are the running cluster's events as "reason: message".
func clusterEvents(t *testing.T) []string {
	t.Helper()
	var list corev1.EventList
	require.NoError(t, testEnv.Client.List(context.Background(), &list, client.InNamespace(running.Namespace)))
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == running.Name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}
