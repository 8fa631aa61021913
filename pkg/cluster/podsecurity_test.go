//go:build !mutation

package cluster_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

// The node pods are privileged: the namespace the cluster-manager creates for them says so to Pod Security
// Admission, so a cluster whose default level is baseline still admits them.
func TestCreatedNamespaceAllowsPrivilegedPods(t *testing.T) {
	c := createCluster(t, nil)
	ns := named(string(c.Spec.Namespace), &corev1.Namespace{})
	eventuallyGet(t, ns, nil)
	for _, label := range []string{desired.PodSecurityEnforceLabel, desired.PodSecurityAuditLabel, desired.PodSecurityWarnLabel} {
		assert.Equal(t, "privileged", ns.Labels[label], label)
	}
	assert.Equal(t, names.ClusterManager, ns.Labels[names.LabelManagedBy])
}

// A namespace that existed before the cluster is its owner's: the cluster-manager does not relabel it (it has no
// right to), but says that its Pod Security level rejects the node pods, and what to do.
func TestExistingNamespaceForbiddingNodePodsIsReportedNotRelabelled(t *testing.T) {
	ctx := context.Background()
	existing := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   "storageos-baseline",
		Labels: map[string]string{desired.PodSecurityEnforceLabel: "baseline", "team": "storage"},
	}}
	require.NoError(t, testEnv.Client.Create(ctx, existing))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, existing) })
	want := map[string]string{desired.PodSecurityEnforceLabel: "baseline", "team": "storage", corev1.LabelMetadataName: existing.Name}

	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.Namespace = storageosv1.NamespaceName(existing.Name) })
	// Degraded says it before any node is scheduled: pods that would run there are rejected.
	degraded := eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionTrue, cluster.ReasonReconcileFailed)
	assert.Contains(t, degraded.Message, fmt.Sprintf(`namespace %s enforces the Pod Security level "baseline" (label pod-security.kubernetes.io/enforce)`, existing.Name))
	assert.Contains(t, degraded.Message, fmt.Sprintf("kubectl label namespace %s pod-security.kubernetes.io/enforce=privileged --overwrite", existing.Name))

	// The DaemonSet controller (which envtest does not run) wants two pods and gets none admitted: NodeReady says why.
	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, nil)
	require.Eventually(t, func() bool {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	}, timeout, tick)
	nodeReady := eventuallyCondition(t, c, cluster.ConditionNodeReady, metav1.ConditionFalse, cluster.ReasonPodSecurityForbidden)
	assert.Contains(t, nodeReady.Message, "0/2 StorageOS node pods ready: namespace "+existing.Name)

	fresh := named(existing.Name, &corev1.Namespace{})
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(fresh), fresh))
	assert.Equal(t, want, fresh.Labels, "the existing namespace's labels are left as they were")

	// The administrator labels it as the condition says: the conditions follow without any change to the cluster.
	fresh.Labels[desired.PodSecurityEnforceLabel] = desired.PodSecurityPrivileged
	require.NoError(t, testEnv.Client.Update(ctx, fresh))
	eventuallyCondition(t, c, cluster.ConditionNodeReady, metav1.ConditionFalse, cluster.ReasonNotReady)
	eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionFalse, cluster.ReasonAsExpected)
}
