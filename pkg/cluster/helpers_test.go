//go:build !mutation

package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Deadlines are generous: the manager and the API server share a loaded 2-core machine.
const (
	timeout = 90 * time.Second
	tick    = 100 * time.Millisecond
)

var clusterCount atomic.Int32

// createCluster creates a StorageOSCluster deploying into a namespace of its own, and deletes it (waiting until
// it is gone, so the next test's cluster is not blocked by it) when the test ends.
func createCluster(t testing.TB, mutate func(*storageosv1.StorageOSClusterSpec)) *storageosv1.StorageOSCluster {
	t.Helper()
	n := clusterCount.Add(1)
	c := &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cluster-%d", n), Namespace: testEnv.CreateNamespace(t)},
		Spec: storageosv1.StorageOSClusterSpec{
			SecretRefName:      "storageos-api",
			SecretRefNamespace: storageosv1.NamespaceName(secretNS),
			Namespace:          storageosv1.NamespaceName(fmt.Sprintf("storageos-%d", n)),
		},
	}
	if mutate != nil {
		mutate(&c.Spec)
	}
	require.NoError(t, testEnv.Client.Create(context.Background(), c))
	t.Cleanup(func() { deleteAndWait(t, c) })
	return c
}

func deleteAndWait(t testing.TB, c *storageosv1.StorageOSCluster) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, client.IgnoreNotFound(testEnv.Client.Delete(ctx, c)))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), &storageosv1.StorageOSCluster{}))
	}, timeout, tick, "the StorageOSCluster %s was not removed", c.Name)
}

// update re-reads the cluster, changes its spec and writes it, retrying on conflicts with the controller.
func update(t testing.TB, c *storageosv1.StorageOSCluster, mutate func(*storageosv1.StorageOSClusterSpec)) {
	t.Helper()
	require.Eventually(t, func() bool {
		fresh := &storageosv1.StorageOSCluster{}
		if err := testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), fresh); err != nil {
			return false
		}
		mutate(&fresh.Spec)
		return testEnv.Client.Update(context.Background(), fresh) == nil
	}, timeout, tick)
}

// eventuallyGet waits until the object exists and cond holds for it.
func eventuallyGet(t testing.TB, obj client.Object, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj) == nil && (cond == nil || cond())
	}, timeout, tick, msgAndArgs...)
}

// eventuallyGone waits until the object does not exist.
func eventuallyGone(t testing.TB, obj client.Object, msgAndArgs ...any) {
	t.Helper()
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
	}, timeout, tick, msgAndArgs...)
}

// inNS names an object in the cluster's namespace.
func inNS[T client.Object](c *storageosv1.StorageOSCluster, name string, obj T) T {
	obj.SetNamespace(string(c.Spec.Namespace))
	obj.SetName(name)
	return obj
}

func named[T client.Object](name string, obj T) T {
	obj.SetName(name)
	return obj
}

func condition(t testing.TB, c *storageosv1.StorageOSCluster, typ string) *metav1.Condition {
	t.Helper()
	fresh := &storageosv1.StorageOSCluster{}
	if testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), fresh) != nil {
		return nil
	}
	return meta.FindStatusCondition(fresh.Status.Conditions, typ)
}

func eventuallyCondition(t testing.TB, c *storageosv1.StorageOSCluster, typ string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var got *metav1.Condition
	require.Eventually(t, func() bool {
		got = condition(t, c, typ)
		return got != nil && got.Status == status && (reason == "" || got.Reason == reason)
	}, timeout, tick, "condition %s=%s (%s); last seen %+v", typ, status, reason, got)
	return got
}

// nodesUp plays the DaemonSet controller and the kubelets, which envtest does not run: the node DaemonSet
// schedules one pod on each named node and they all become ready.
func nodesUp(t testing.TB, c *storageosv1.StorageOSCluster, nodes ...string) {
	t.Helper()
	ctx := context.Background()
	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, nil)
	for _, node := range nodes {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "storageos-" + node, Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "storageos", Image: "storageos/node:v2.1.0"}}},
		}
		require.NoError(t, testEnv.Client.Create(ctx, pod))
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		require.NoError(t, testEnv.Client.Status().Update(ctx, pod))
	}
	n := int32(len(nodes))
	require.Eventually(t, func() bool {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: n, CurrentNumberScheduled: n, NumberReady: n,
			NumberAvailable: n, UpdatedNumberScheduled: n, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	}, timeout, tick)
}

// assertNoSecretValues checks that no API credential appears anywhere in the cluster's status or events.
func assertNoSecretValues(t testing.TB, c *storageosv1.StorageOSCluster) {
	t.Helper()
	fresh := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), fresh))
	assert.NotContains(t, fmt.Sprintf("%+v", fresh.Status), apiPassword)
	for _, e := range events(t, c) {
		assert.NotContains(t, e, apiPassword)
	}
}

// events are the "reason: note" of the events about a cluster.
func events(t testing.TB, c *storageosv1.StorageOSCluster) []string {
	t.Helper()
	var list corev1.EventList
	require.NoError(t, testEnv.Client.List(context.Background(), &list, client.InNamespace(c.Namespace)))
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == c.Name {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}

func eventuallyEvent(t testing.TB, c *storageosv1.StorageOSCluster, prefix string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, e := range events(t, c) {
			if strings.HasPrefix(e, prefix) {
				return true
			}
		}
		return false
	}, timeout, tick, "no event %q; have %v", prefix, events(t, c))
}

func apierrorsIsNotFound(err error) bool { return apierrors.IsNotFound(err) }
