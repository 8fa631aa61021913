package localcluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// The local cluster runs real controllers and a scheduler over simulated nodes: a DaemonSet becomes 3/3
// Running on three kwok nodes, and their pods' logs are served as a kubelet would.
func TestADaemonSetRunsOnEverySimulatedNode(t *testing.T) {
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	bins, err := envtest.AssetsDir(root)
	require.NoError(t, err)
	stages, err := localcluster.KwokStageFiles(root)
	require.NoError(t, err)
	ctx := context.Background()
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: bins, KwokStages: stages, WorkDir: t.TempDir(),
		Nodes: []string{"node-a", "node-b", "node-c"}, Progress: os.Stderr, PodLog: "probe log\n"})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop()) })
	_, err = os.Stat(filepath.Clean(c.Kubeconfig))
	require.NoError(t, err)

	labels := map[string]string{"app": "probe"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	require.NoError(t, c.Client.Create(ctx, ds))
	require.Eventually(t, func() bool {
		return c.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds) == nil && ds.Status.NumberReady == 3 && ds.Status.DesiredNumberScheduled == 3
	}, 2*time.Minute, 200*time.Millisecond, "DaemonSet 3/3 ready; last status %+v", &ds.Status)

	var pods corev1.PodList
	require.NoError(t, c.Client.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels(labels)))
	require.NotEmpty(t, pods.Items)
	clientset, err := kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)
	log, err := clientset.CoreV1().Pods("default").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Container: "c"}).DoRaw(ctx)
	require.NoError(t, err, "pods/log is served")
	require.Contains(t, string(log), "probe log")

	// A node taken down and brought back (make soak's NotReady fault): down, it is NotReady and kwok no longer
	// manages it; back, it has its addresses (kwok once wiped them, and its pods' logs could no longer be read)
	// and its pod serves its log again.
	onB := func() (*corev1.Pod, error) {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels(labels),
			client.MatchingFields{"spec.nodeName": "node-b"}); err != nil || len(pods.Items) != 1 {
			return nil, fmt.Errorf("pods on node-b: %v (%w)", len(pods.Items), err)
		}
		return &pods.Items[0], nil
	}
	require.NoError(t, c.SetNodeReady(ctx, "node-b", false))
	node := &corev1.Node{}
	require.NoError(t, c.Client.Get(ctx, client.ObjectKey{Name: "node-b"}, node))
	assert.NotContains(t, node.Annotations, localcluster.FakeNodeAnnotation, "kwok no longer manages node-b")
	time.Sleep(2 * time.Second) // long enough for kwok to have undone it, were it still managing the node
	require.NoError(t, c.Client.Get(ctx, client.ObjectKey{Name: "node-b"}, node))
	assert.False(t, nodeReady(node), "node-b stays NotReady")
	require.NoError(t, c.SetNodeReady(ctx, "node-b", true))
	require.NoError(t, c.Client.Get(ctx, client.ObjectKey{Name: "node-b"}, node))
	assert.NotEmpty(t, node.Status.Addresses, "node-b keeps its addresses")
	assert.Equal(t, "fake", node.Annotations[localcluster.FakeNodeAnnotation], "kwok manages node-b again")
	require.Eventually(t, func() bool {
		return c.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds) == nil && ds.Status.NumberReady == 3
	}, time.Minute, 200*time.Millisecond, "DaemonSet 3/3 ready again; last status %+v", &ds.Status)
	p, err := onB()
	require.NoError(t, err)
	log, err = clientset.CoreV1().Pods("default").GetLogs(p.Name, &corev1.PodLogOptions{Container: "c"}).DoRaw(ctx)
	require.NoError(t, err, "pods/log served for the pod on the node that came back")
	assert.Contains(t, string(log), "probe log")
	assert.True(t, kube.PodReady(p))
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
