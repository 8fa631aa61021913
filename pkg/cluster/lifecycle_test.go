//go:build !mutation

package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Deleting a cluster removes every object it created, cluster-scoped ones included, even with the StorageOS
// API gone.
func TestDeleteLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset", EnableProvisionCreds: true}
		s.Ingress = storageosv1.StorageOSClusterIngress{Enable: true, TLS: true, Hostname: "storageos.local"}
		s.K8sDistro = "openshift"
	})
	eventuallyGet(t, inNS(c, desired.IngressName, &networkingv1.Ingress{}), nil)
	nodesUp(t, c, "node-d")
	eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionTrue, "")

	sim.SetOutage(true)
	defer sim.SetOutage(false)
	deleteAndWait(t, c)

	selector := client.MatchingLabels{names.LabelInstance: c.Name, names.LabelClusterNamespace: c.Namespace}
	for _, list := range cluster.ManagedLists() {
		require.NoError(t, testEnv.Client.List(ctx, list, selector))
		items, err := cluster.MetaItems(list)
		require.NoError(t, err)
		for _, obj := range items {
			assert.False(t, obj.GetDeletionTimestamp().IsZero(), "%T %s/%s is left behind", obj, obj.GetNamespace(), obj.GetName())
		}
	}
	// envtest runs no namespace controller, so the namespace the cluster created stays Terminating here.
	ns := named(string(c.Spec.Namespace), &corev1.Namespace{})
	if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns); err == nil {
		assert.False(t, ns.DeletionTimestamp.IsZero(), "the namespace the cluster created is deleted")
	}
}

// A namespace that existed before the cluster is not the cluster's to delete.
func TestExistingNamespaceSurvivesDelete(t *testing.T) {
	ctx := context.Background()
	existing := testEnv.CreateNamespace(t)
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.Namespace = storageosv1.NamespaceName(existing) })
	eventuallyGet(t, inNS(c, names.DaemonSet, &appsv1.DaemonSet{}), nil)
	deleteAndWait(t, c)
	ns := named(existing, &corev1.Namespace{})
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns))
	assert.True(t, ns.DeletionTimestamp.IsZero())
}

func TestOnlyOneClusterRuns(t *testing.T) {
	first := createCluster(t, nil)
	eventuallyGet(t, inNS(first, names.DaemonSet, &appsv1.DaemonSet{}), nil)
	// The first has claimed the deployment once its status says so; before that, two clusters created within
	// the same second are ordered by namespace, which is random here.
	require.Eventually(t, func() bool {
		fresh := &storageosv1.StorageOSCluster{}
		return testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(first), fresh) == nil &&
			meta.FindStatusCondition(fresh.Status.Conditions, cluster.ConditionAvailable) != nil
	}, timeout, tick, "the first cluster claimed the deployment")
	second := createCluster(t, nil)

	cond := eventuallyCondition(t, second, cluster.ConditionAvailable, metav1.ConditionFalse, cluster.ReasonAnotherCluster)
	assert.Contains(t, cond.Message, first.Namespace+"/"+first.Name)
	fresh := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(second), fresh))
	assert.Equal(t, storageosv1.ClusterPhasePending, fresh.Status.Phase)
	eventuallyEvent(t, second, "FailedCreation: can't create more than one storageos cluster: "+first.Namespace+"/"+first.Name)
	assert.Error(t, testEnv.Client.Get(context.Background(),
		client.ObjectKey{Namespace: string(second.Spec.Namespace), Name: names.DaemonSet}, &appsv1.DaemonSet{}),
		"the second cluster deploys nothing")

	deleteAndWait(t, first)
	eventuallyGet(t, inNS(second, names.DaemonSet, &appsv1.DaemonSet{}), nil, "deleting the first lets the second proceed")
}

func TestStorageOSAPIFailuresAreReportedAndHarmNothing(t *testing.T) {
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.DisableTelemetry, s.Debug = true, true })
	nodesUp(t, c, "node-x")
	eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionTrue, "")
	require.Eventually(t, func() bool { return sim.Cluster().DisableTelemetry }, timeout, tick, "disableTelemetry is pushed to /v2/cluster")
	require.Eventually(t, func() bool { return sim.Cluster().LogLevel == "debug" }, timeout, tick, "debug is pushed to /v2/cluster")
	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Debug = false })
	require.Eventually(t, func() bool { return sim.Cluster().LogLevel == "info" }, timeout, tick, "and taken back")

	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, nil)
	generation := ds.Generation

	sim.RejectCredentials(true)
	cond := eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionFalse, cluster.ReasonCredentialsInvalid)
	assert.NotContains(t, cond.Message, apiPassword)
	eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionTrue, "")
	sim.RejectCredentials(false)

	sim.SetOutage(true)
	eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionFalse, cluster.ReasonAPIUnreachable)
	sim.SetOutage(false)
	eventuallyCondition(t, c, cluster.ConditionAPIReady, metav1.ConditionTrue, "")

	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(ds), ds))
	assert.Equal(t, generation, ds.Generation, "API failures never roll the node DaemonSet")
	assertNoSecretValues(t, c)
}

// A missing API secret is reported, naming the field; creating it lets the cluster proceed without any edit.
func TestMissingSecretIsReportedUntilItAppears(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.SecretRefName = "late-secret" })
	cond := eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionTrue, "")
	assert.Equal(t, "the Secret named by secretRefName must exist and hold apiUsername, apiPassword", cond.Message,
		"the status names the field and what it needs, not whether the Secret exists")
	fresh := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), fresh))
	assert.Equal(t, storageosv1.ClusterPhasePending, fresh.Status.Phase)
	eventuallyEvent(t, c, "FailedCreation: the Secret named by secretRefName must exist")

	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "late-secret", Namespace: secretNS},
		Data: map[string][]byte{"apiUsername": []byte(apiUsername), "apiPassword": []byte(apiPassword)}}
	require.NoError(t, testEnv.Client.Create(ctx, secret))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, secret) })
	eventuallyGet(t, inNS(c, desired.InitSecretName, &corev1.Secret{}), nil, "the cluster proceeds once the secret exists")
}

// A StorageClass of the same name that the operator did not create is left alone, and the cluster says why.
func TestForeignObjectsAreNotTakenOver(t *testing.T) {
	ctx := context.Background()
	foreign := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "users-own-class"}, Provisioner: "ebs.csi.aws.com"}
	require.NoError(t, testEnv.Client.Create(ctx, foreign))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, foreign) })

	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.StorageClassName = "users-own-class" })
	cond := eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionTrue, "")
	assert.Contains(t, cond.Message, "StorageClass users-own-class already exists and is not managed by storageos-cluster-manager")
	deleteAndWait(t, c)
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(foreign), foreign))
	assert.Equal(t, "ebs.csi.aws.com", foreign.Provisioner, "untouched, and not deleted with the cluster")
	assert.Empty(t, foreign.Labels)
}

// An API secret without the keys the spec needs is reported by the keys the spec needs, exactly as a missing
// one: neither which keys the Secret holds nor their values reach the status.
func TestMissingSecretKeysAreNotRevealed(t *testing.T) {
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "partial-secret", Namespace: secretNS},
		Data: map[string][]byte{"apiUsername": []byte(apiUsername), "apiPassword": []byte(apiPassword)}}
	require.NoError(t, testEnv.Client.Create(ctx, secret))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, secret) })
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) {
		s.SecretRefName = "partial-secret"
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset", EnableNodePublishCreds: true}
	})
	cond := eventuallyCondition(t, c, cluster.ConditionDegraded, metav1.ConditionTrue, "")
	assert.Equal(t, "the Secret named by secretRefName must exist and hold apiUsername, apiPassword, csiNodePublishUsername, csiNodePublishPassword", cond.Message)
	assert.NotContains(t, cond.Message, apiPassword)
}

// StorageOS creates an NFSServer for every ReadWriteMany claim, as its node ServiceAccount: the cluster grants
// that through storageos:nfs-provisioner, and takes the grant away with it.
func TestNodeServiceAccountManagesNFSServersWhileTheClusterExists(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, nil)
	eventuallyGet(t, named(desired.NFSProvisionerRole, &rbacv1.ClusterRoleBinding{}), nil)

	nodeSA := testEnv.ClientAs(t, envtest.ServiceAccount(string(c.Spec.Namespace), desired.DaemonSetSA))
	ns := testEnv.CreateNamespace(t)
	server := func(name string) *storageosv1.NFSServer {
		return &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	}
	// RBAC is eventually consistent in the API server's authorizer cache.
	require.Eventually(t, func() bool { return nodeSA.Create(ctx, server("pvc-1")) == nil }, timeout, tick,
		"the node ServiceAccount can create NFSServers")
	assert.NoError(t, nodeSA.Delete(ctx, server("pvc-1")))
	other := testEnv.ClientAs(t, envtest.ServiceAccount(string(c.Spec.Namespace), "default"))
	assert.True(t, apierrors.IsForbidden(other.Create(ctx, server("pvc-2"))), "no other ServiceAccount gets the grant")

	deleteAndWait(t, c)
	eventuallyGone(t, named(desired.NFSProvisionerRole, &rbacv1.ClusterRoleBinding{}))
	require.Eventually(t, func() bool { return apierrors.IsForbidden(nodeSA.Create(ctx, server("pvc-3"))) }, timeout, tick,
		"the grant goes with the cluster")
}

// Each status transition is announced once: reconciles that race the last status write (polls every 3 s while
// unsettled, watch events of children) must not repeat its ChangedStatus event ("x2 over 26s" in kubectl describe).
func TestEachTransitionIsAnnouncedOnce(t *testing.T) {
	c := createCluster(t, nil)
	nodesUp(t, c, "node-a", "node-b")
	healthy := "ChangedStatus: 2/2 StorageOS nodes are functional. Cluster healthy"
	eventuallyEvent(t, c, healthy)
	// Several polls and the children's own updates later, still one.
	time.Sleep(3 * cluster.DefaultUnsettledPoll)
	counts := testEnv.EventCounts(t, c.Namespace, c.Name)
	assert.Equal(t, 1, counts[healthy], "events: %v", counts)
	for reason, n := range counts {
		if strings.HasPrefix(reason, "ChangedStatus") {
			assert.Equal(t, 1, n, "%s announced %d times", reason, n)
		}
	}
}
