//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Deadlines are generous: a loaded 2-core machine runs a control plane, kwok and eight manager processes.
const (
	timeout  = 3 * time.Minute
	interval = 250 * time.Millisecond
)

// eventually polls check until it returns nil, failing with its last error at the deadline.
func eventually(t *testing.T, within time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	eventuallyEvery(t, within, interval, what, check)
}

func eventuallyEvery(t *testing.T, within, interval time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			require.FailNowf(t, "timed out", "%s: not done after %s: %v (logs: %s)", what, within, err, env.Logs())
		}
		time.Sleep(interval)
	}
}

func sampleCluster(ctx context.Context) (*storageosv1.StorageOSCluster, error) {
	c := &storageosv1.StorageOSCluster{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}, c)
	return c, err
}

// nodePods are the StorageOS node pods, by node.
func nodePods(ctx context.Context) (map[string]corev1.Pod, error) {
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.MatchingLabels(names.NodePodLabels())); err != nil {
		return nil, err
	}
	out := map[string]corev1.Pod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = p
		}
	}
	return out, nil
}

// allNodePodsRunning: one Running, ready node pod on every node, with image when not empty.
func allNodePodsRunning(ctx context.Context, image string) error {
	pods, err := nodePods(ctx)
	if err != nil {
		return err
	}
	var nodes corev1.NodeList
	if err := env.Client.List(ctx, &nodes); err != nil {
		return err
	}
	for _, n := range nodes.Items {
		p, ok := pods[n.Name]
		if !ok {
			return fmt.Errorf("no StorageOS node pod on %s", n.Name)
		}
		if p.Status.Phase != corev1.PodRunning || !podReady(&p) {
			return fmt.Errorf("pod %s on %s is %s", p.Name, n.Name, p.Status.Phase)
		}
		if image != "" && p.Spec.Containers[0].Image != image {
			return fmt.Errorf("pod %s on %s runs %s, want %s", p.Name, n.Name, p.Spec.Containers[0].Image, image)
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func condition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// hasEvent finds an event with reason on the object named name in namespace.
func hasEvent(ctx context.Context, namespace, name, reason string) error {
	var events corev1.EventList
	if err := env.Client.List(ctx, &events, client.InNamespace(namespace)); err != nil {
		return err
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event on %s/%s", reason, namespace, name)
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})))
}

// storageOSApp creates a Deployment on a StorageOS volume and waits for its claim to be bound (to the volume
// the demo's provisioner made for it, as StorageOS's CSI provisioner would).
func storageOSApp(t *testing.T, namespace, name string, replicas int32) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	pvc, d := demo.StorageOSApp(namespace, name, replicas)
	require.NoError(t, env.Client.Create(ctx, pvc))
	eventually(t, timeout, "claim "+name+" bound", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); err != nil {
			return err
		}
		if pvc.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim is %s", pvc.Status.Phase)
		}
		return nil
	})
	require.Equal(t, "pvc-"+string(pvc.UID), pvc.Spec.VolumeName, "bound to a provisioned volume")
	require.NoError(t, env.Client.Create(ctx, d))
	return d
}

// deploymentReady: the Deployment has replicas ready pods, all of its current template.
func deploymentReady(ctx context.Context, d *appsv1.Deployment, replicas int32) error {
	live := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
		return err
	}
	s := live.Status
	if ptr.Deref(live.Spec.Replicas, 1) != replicas || s.ReadyReplicas != replicas || s.UpdatedReplicas != replicas ||
		s.ObservedGeneration != live.Generation {
		return fmt.Errorf("%s: spec %d, ready %d, updated %d", d.Name, ptr.Deref(live.Spec.Replicas, 1), s.ReadyReplicas, s.UpdatedReplicas)
	}
	return nil
}

// podsOf lists the pods of a Deployment.
func podsOf(ctx context.Context, d *appsv1.Deployment) ([]corev1.Pod, error) {
	live := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
		return nil, err
	}
	var pods corev1.PodList
	err := env.Client.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabels(live.Spec.Selector.MatchLabels))
	return pods.Items, err
}

// patchCluster changes the sample cluster's spec with a merge patch.
func patchCluster(t *testing.T, patch string) {
	t.Helper()
	c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}}
	require.NoError(t, env.Client.Patch(context.Background(), c, client.RawPatch("application/merge-patch+json", []byte(patch))))
}
