//go:build !mutation

package cluster_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

// originalFixtures are what storageos/cluster-operator v2.1.0 creates for its example cluster, written down from
// its builders (testdata/original-v2.1.0, each file names the functions it comes from).
const originalFixtures = "testdata/original-v2.1.0"

func readFixtures(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	return readFixtureFile(t, filepath.Join(originalFixtures, file))
}

// decodeObjects reads a multi-document YAML file of objects.
func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// A cluster the original operator deployed is taken over in place: every child converges to this operator's
// desired state, the node pods keep running (same UIDs), nothing else of the original's is deleted, the old
// finalizer is replaced, and the cluster becomes Running.
func TestMigrationFromTheOriginalOperator(t *testing.T) {
	ctx := context.Background()
	installed := map[string]bool{}
	for _, r := range desired.ComponentClusterRoles() {
		installed[r.Name] = true
	}
	// The original's ClusterRoles of the names this operator's install ships are replaced by the install
	// (kubectl apply, OLM) before the cluster-manager runs; they are the install's, not the cluster's, to adopt.
	var children []*unstructured.Unstructured
	for _, obj := range append(readFixtures(t, "namespaced.yaml"), readFixtures(t, "cluster-scoped.yaml")...) {
		if obj.GetKind() != "ClusterRole" || !installed[obj.GetName()] {
			children = append(children, obj)
		}
	}
	for _, obj := range children {
		require.NoError(t, testEnv.Client.Create(ctx, obj), "%s %s", obj.GetKind(), obj.GetName())
	}
	t.Cleanup(func() {
		for _, obj := range children {
			_ = testEnv.Client.Delete(ctx, obj)
		}
	})
	uids := map[string]types.UID{}
	for _, obj := range children {
		uids[obj.GetKind()+"/"+obj.GetName()] = obj.GetUID()
	}

	// The node pods the original's DaemonSet runs, one per node, ready.
	oldDS := &appsv1.DaemonSet{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: names.DaemonSet}, oldDS))
	var pods []*corev1.Pod
	for _, node := range []string{"node-1", "node-2", "node-3"} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: names.DaemonSet + "-" + node, Namespace: "kube-system", Labels: oldDS.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: oldDS.Name, UID: oldDS.UID,
					Controller: new(true), BlockOwnerDeletion: new(true)}}},
			Spec: *oldDS.Spec.Template.Spec.DeepCopy(),
		}
		pod.Spec.NodeName = node
		require.NoError(t, testEnv.Client.Create(ctx, pod))
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		require.NoError(t, testEnv.Client.Status().Update(ctx, pod))
		pods = append(pods, pod)
		t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, pod) })
	}

	// The user's secret, with the simulator's credentials, and the StorageOSCluster as the original stored it.
	secret := readFixtures(t, "api-secret.yaml")[0]
	require.NoError(t, unstructured.SetNestedStringMap(secret.Object, map[string]string{"apiUsername": apiUsername, "apiPassword": apiPassword}, "stringData"))
	unstructured.RemoveNestedField(secret.Object, "data")
	require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(ctx, secret)))
	raw := readFixtures(t, "storageoscluster.yaml")[0]
	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(raw.Object, c))
	require.Contains(t, c.Finalizers, names.LegacyClusterFinalizer)
	require.NoError(t, testEnv.Client.Create(ctx, c))
	t.Cleanup(func() { deleteAndWait(t, c) })

	// Play the garbage collector, which envtest does not run: the original's DaemonSet, deleted with its pods
	// orphaned, releases them and goes.
	require.Eventually(t, func() bool {
		old := &appsv1.DaemonSet{}
		err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: names.DaemonSet}, old)
		if err != nil || old.UID != oldDS.UID {
			return err == nil || apierrors.IsNotFound(err)
		}
		if old.DeletionTimestamp.IsZero() {
			return false
		}
		for _, pod := range pods {
			patch := []byte(`{"metadata":{"ownerReferences":null}}`)
			require.NoError(t, testEnv.Client.Patch(ctx, pod.DeepCopy(), client.RawPatch(types.MergePatchType, patch)))
		}
		old.Finalizers = slices.DeleteFunc(old.Finalizers, func(f string) bool { return f == metav1.FinalizerOrphanDependents })
		return testEnv.Client.Update(ctx, old) == nil
	}, timeout, tick, "the original's DaemonSet is deleted with its pods orphaned")

	// The new DaemonSet: this operator's, OnDelete, selecting the same pods.
	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, func() bool { return ds.Labels[names.LabelManagedBy] == names.ClusterManager })
	assert.Equal(t, appsv1.OnDeleteDaemonSetStrategyType, ds.Spec.UpdateStrategy.Type)
	for _, pod := range pods {
		fresh := &corev1.Pod{}
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), fresh))
		assert.Equal(t, pod.UID, fresh.UID, "node pod %s kept running", pod.Name)
		assert.True(t, labelsMatch(ds.Spec.Selector.MatchLabels, fresh.Labels), "the new DaemonSet selects %s", pod.Name)
		eventuallyGet(t, fresh, func() bool { return fresh.Labels[names.LabelManagedBy] == names.ClusterManager },
			"the pod is relabelled for this operator's cache")
	}
	nodesUpExisting(t, ds, 3)

	// The old finalizer is replaced, the status becomes Running, and the adoption is told in events.
	eventuallyGet(t, c, func() bool {
		return slices.Contains(c.Finalizers, cluster.Finalizer) && !slices.Contains(c.Finalizers, names.LegacyClusterFinalizer) &&
			c.Status.Phase == storageosv1.ClusterPhaseRunning
	}, "finalizer replaced and Running")
	// The recorder folds events of one reason into a series, so only the first is certain to be listed.
	eventuallyEvent(t, c, "Adopted: ")

	// Every child of the original that this operator also wants is converged and kept its UID, except the
	// workloads whose immutable selector differs: the node DaemonSet (pods kept, above) and stateless helpers.
	recreated := map[string]bool{"DaemonSet/" + names.DaemonSet: true, "StatefulSet/" + desired.CSIStatefulSetName: true,
		"Deployment/" + names.Scheduler: true}
	for _, obj := range children {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(obj), live)
		require.NoError(t, err, "nothing of the original's is deleted: %s %s", obj.GetKind(), obj.GetName())
		key := obj.GetKind() + "/" + obj.GetName()
		if recreated[key] {
			continue
		}
		assert.Equal(t, uids[key], live.GetUID(), "%s kept in place", key)
		if live.GetLabels()[names.LabelManagedBy] == names.ClusterManager {
			for _, mf := range live.GetManagedFields() {
				assert.Equal(t, names.ClusterManager, mf.Manager, "%s: only this operator manages its fields", key)
			}
		}
	}

	// The node ConfigMap holds exactly this operator's environment: no key of the original's lingers.
	cm := inNS(c, names.NodeConfigMap, &corev1.ConfigMap{})
	eventuallyGet(t, cm, func() bool { return cm.Labels[names.LabelManagedBy] == names.ClusterManager })
	assert.Equal(t, "unix:///var/lib/kubelet/plugins_registry/storageos/csi.sock", cm.Data["CSI_ENDPOINT"])
	assert.NotContains(t, cm.Data, "JOIN")
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// nodesUpExisting plays the DaemonSet controller for pods that already run: it reports n ready pods.
func nodesUpExisting(t testing.TB, ds *appsv1.DaemonSet, n int32) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: n, CurrentNumberScheduled: n, NumberReady: n,
			NumberAvailable: n, UpdatedNumberScheduled: 0, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	}, timeout, tick)
}
