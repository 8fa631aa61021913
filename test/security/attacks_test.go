package security

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/admission"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/job"
	"github.com/storageos/cluster-operator/pkg/names"
)

// The people of the attack table.
const (
	editor   = "alice" // edit role + every right on storageos.com in her namespace, as OLM grants
	tenant   = "bob"   // every right on storageos.com in his namespace, nothing else
	platform = "pat"   // may deploy StorageOS (DaemonSets, StorageClasses, CSIDrivers, bind its roles), reads no Secret
	nsAdmin  = "ada"   // admin of the cluster's namespace: every verb on storageos.com there, as OLM aggregates into admin
)

// world is the cluster the attacks run against: namespaces, people, the StorageOS cluster an administrator
// created, its API Secret, and a Secret nobody but the administrator may read.
type world struct {
	team, tenantNS, secrets, deploy string
	cluster                         *storageosv1.StorageOSCluster
}

func TestNobodyGainsPowerThroughTheOperator(t *testing.T) {
	for _, inst := range []struct {
		name    string
		install func(*testing.T)
	}{
		{"default overlay", installDefaultOverlay},
		{"OLM bundle", installBundle},
	} {
		t.Run(inst.name, func(t *testing.T) {
			inst.install(t)
			w := newWorld(t)
			t.Run("attacks", func(t *testing.T) { attacks(t, w) })
			t.Run("administrators", func(t *testing.T) { administrators(t, w) })
		})
	}
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	w := &world{team: testEnv.CreateNamespace(t), tenantNS: testEnv.CreateNamespace(t), secrets: testEnv.CreateNamespace(t),
		deploy: testEnv.CreateNamespace(t)}
	// Pod Security: the editor's namespace enforces baseline, as many clusters do by default.
	nsObj := &corev1.Namespace{}
	require.NoError(t, testEnv.Client.Get(ctx, types.NamespacedName{Name: w.team}, nsObj))
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "baseline"
	require.NoError(t, testEnv.Client.Update(ctx, nsObj))

	allStorageOS := rbacv1.PolicyRule{APIGroups: []string{storageosv1.GroupVersion.Group},
		Resources: []string{"storageosclusters", "storageosupgrades", "jobs", "nfsservers"},
		Verbs:     []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}}
	// The built-in edit role is aggregated by kube-controller-manager, which envtest does not run: the editor
	// gets the rules it aggregates (the aggregate-to-edit and aggregate-to-view roles the API server bootstraps).
	edit := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-edit"}}
	for _, name := range []string{"system:aggregate-to-edit", "system:aggregate-to-view"} {
		part := &rbacv1.ClusterRole{}
		require.NoError(t, testEnv.Client.Get(ctx, types.NamespacedName{Name: name}, part))
		edit.Rules = append(edit.Rules, part.Rules...)
	}
	objs := []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "storageos-all", Namespace: w.team}, Rules: []rbacv1.PolicyRule{allStorageOS}},
		binding(w.team, "Role", "storageos-all", editor),
		edit,
		binding(w.team, "ClusterRole", "test-edit", editor),
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "storageos-all", Namespace: w.tenantNS}, Rules: []rbacv1.PolicyRule{allStorageOS}},
		binding(w.tenantNS, "Role", "storageos-all", tenant),
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "storageos-admin", Namespace: w.team}, Rules: []rbacv1.PolicyRule{{
			APIGroups: allStorageOS.APIGroups, Resources: allStorageOS.Resources, Verbs: []string{"*"}}}},
		binding(w.team, "Role", "storageos-admin", nsAdmin),
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test-storageos-deployer"}, Rules: []rbacv1.PolicyRule{
			allStorageOS,
			{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"create", "delete"}},
			{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "csidrivers"}, Verbs: []string{"create"}},
			{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: []string{desired.KeyManagementRole}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-storageos-deployer"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "test-storageos-deployer"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: platform}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "storageos-api", Namespace: w.secrets},
			StringData: map[string]string{"apiUsername": "admin", "apiPassword": "s3cret-value"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "private", Namespace: w.secrets},
			StringData: map[string]string{"token": "private-token-value"}},
	}
	createAll(t, objs)

	w.cluster = &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "storageos", Namespace: w.team},
		Spec: storageosv1.StorageOSClusterSpec{SecretRefName: "storageos-api", SecretRefNamespace: storageosv1.NamespaceName(w.secrets),
			Namespace: storageosv1.NamespaceName(w.deploy)},
	}
	require.NoError(t, testEnv.Client.Create(ctx, w.cluster), "the administrator creates the cluster")
	t.Cleanup(func() { _ = testEnv.Client.Delete(context.Background(), w.cluster) })
	// RBAC reaches the authorizer's cache, and a new policy the API server's admission, eventually: wait until
	// the editor's grant works and the policies refuse what they must.
	require.Eventually(t, func() bool {
		return as(t, editor).Get(ctx, client.ObjectKeyFromObject(w.cluster), &storageosv1.StorageOSCluster{}) == nil
	}, timeout, tick)
	require.Eventually(t, func() bool {
		probe := rootJob(w.tenantNS)
		err := as(t, tenant).Create(ctx, probe)
		if err == nil {
			_ = testEnv.Client.Delete(ctx, probe)
		}
		return err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+admission.JobPolicy+"'")
	}, timeout, tick, "the admission policies are in force")
	return w
}

func binding(ns, kind, role, user string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user + "-" + role, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}}}
}

func as(t *testing.T, user string) client.Client { return testEnv.ClientAs(t, envtest.User(user)) }

func asServiceAccount(t *testing.T, binary string) client.Client {
	return testEnv.ClientAs(t, envtest.ServiceAccount(operatorNS, binary))
}

func mergePatch(format string, args ...any) client.Patch {
	return client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(format, args...)))
}

// refused asserts err is the API server refusing the request by the named admission policy, with a message
// naming the requester and the missing right (an RBAC refusal would not prove the policy works).
func refused(t *testing.T, err error, policy string, mentions ...string) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "refused as forbidden: %v", err)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy '"+policy+"'")
	for _, m := range mentions {
		assert.Contains(t, err.Error(), m)
	}
	t.Logf("refused: %v", err)
}

func attacks(t *testing.T, w *world) {
	ctx := context.Background()
	key := client.ObjectKeyFromObject(w.cluster)
	newCluster := func(ns, name, secretNS, secretName string) *storageosv1.StorageOSCluster {
		return &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: storageosv1.StorageOSClusterSpec{SecretRefName: storageosv1.ObjectName(secretName),
				SecretRefNamespace: storageosv1.NamespaceName(secretNS), Namespace: storageosv1.NamespaceName(ns)}}
	}
	cluster := func() *storageosv1.StorageOSCluster {
		c := &storageosv1.StorageOSCluster{}
		require.NoError(t, testEnv.Client.Get(ctx, key, c))
		return c
	}

	t.Run("editor takes over: creates a StorageOSCluster in her namespace", func(t *testing.T) {
		refused(t, as(t, editor).Create(ctx, newCluster(w.team, "mine", w.team, "whatever")), admission.ClusterPolicy, editor)
	})
	t.Run("editor pauses the cluster", func(t *testing.T) {
		refused(t, as(t, editor).Patch(ctx, cluster(), mergePatch(`{"spec":{"pause":true}}`)), admission.ClusterPolicy, editor, "spec")
		assert.False(t, cluster().Spec.Pause)
	})
	t.Run("editor puts her image on every node", func(t *testing.T) {
		refused(t, as(t, editor).Patch(ctx, cluster(), mergePatch(`{"spec":{"images":{"nodeContainer":"evil/node:1"}}}`)), admission.ClusterPolicy, editor)
		assert.Empty(t, cluster().Spec.Images.NodeContainer)
	})
	t.Run("editor points the cluster at another Secret", func(t *testing.T) {
		refused(t, as(t, editor).Patch(ctx, cluster(), mergePatch(`{"spec":{"secretRefName":"private"}}`)), admission.ClusterPolicy, editor)
	})
	t.Run("editor deletes the cluster", func(t *testing.T) {
		refused(t, as(t, editor).Delete(ctx, cluster()), admission.ClusterPolicy, editor, "delete daemonsets.apps in namespace "+w.deploy)
		assert.NoError(t, testEnv.Client.Get(ctx, key, &storageosv1.StorageOSCluster{}))
	})
	t.Run("editor upgrades the cluster", func(t *testing.T) {
		u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "up", Namespace: w.team},
			Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "evil/node:1"}}
		refused(t, as(t, editor).Create(ctx, u), admission.UpgradePolicy, editor, "may not update storageosclusters/upgrade in namespace "+w.team)
	})
	t.Run("tenant upgrades from another namespace", func(t *testing.T) {
		u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "up", Namespace: w.tenantNS},
			Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "evil/node:1"}}
		refused(t, as(t, tenant).Create(ctx, u), admission.UpgradePolicy, tenant)
	})
	t.Run("tenant runs a root host-path Job without any right on pods", func(t *testing.T) {
		refused(t, as(t, tenant).Create(ctx, rootJob(w.tenantNS)), admission.JobPolicy, tenant, "may not create daemonsets.apps in namespace "+w.tenantNS)
	})
	t.Run("editor's Job pods are judged by her namespace's Pod Security", func(t *testing.T) {
		// The editor may create DaemonSets in her namespace, so her Job is admitted, but its pods are created
		// in her namespace, where Pod Security Admission (baseline) refuses a host path as it would hers.
		j := rootJob(w.team)
		require.NoError(t, as(t, editor).Create(ctx, j))
		ds, err := job.DaemonSet(j)
		require.NoError(t, err)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "job-pod", Namespace: w.team}, Spec: ds.Spec.Template.Spec}
		pod.Spec.NodeName = "node-1"
		err = testEnv.Client.Create(ctx, pod, client.DryRunAll)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "violates PodSecurity")
	})
	t.Run("tenant runs an NFS server image of his choice", func(t *testing.T) {
		nfs := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Name: "nfs", Namespace: w.tenantNS},
			Spec: storageosv1.NFSServerSpec{NFSContainer: "evil/nfs:1"}}
		refused(t, as(t, tenant).Create(ctx, nfs), admission.NFSServerPolicy, tenant, "spec.nfsContainer")
		nfs.Spec.NFSContainer = ""
		assert.NoError(t, as(t, tenant).Create(ctx, nfs), "an NFS server with the operator's image is the product")
		refused(t, as(t, tenant).Patch(ctx, nfs, mergePatch(`{"spec":{"nfsContainer":"evil/nfs:1"}}`)), admission.NFSServerPolicy, tenant)
	})
	t.Run("namespace admin (every verb, as OLM aggregates) upgrades or repoints the cluster", func(t *testing.T) {
		u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "admin-up", Namespace: w.team},
			Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "evil/node:1"}}
		refused(t, as(t, nsAdmin).Create(ctx, u), admission.UpgradePolicy, nsAdmin)
		refused(t, as(t, nsAdmin).Patch(ctx, cluster(), mergePatch(`{"spec":{"images":{"nodeContainer":"evil/node:1"}}}`)), admission.ClusterPolicy, nsAdmin)
	})
	t.Run("editor aborts a running upgrade half-way", func(t *testing.T) {
		u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "running", Namespace: w.team},
			Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.2.0"}}
		require.NoError(t, testEnv.Client.Create(ctx, u))
		u.Status.Phase = storageosv1.UpgradePhaseScalingDown
		require.NoError(t, testEnv.Client.Status().Update(ctx, u))
		refused(t, as(t, editor).Delete(ctx, u), admission.UpgradePolicy, editor, "deleting a running upgrade")
		u.Status.Phase = storageosv1.UpgradePhaseCompleted
		require.NoError(t, testEnv.Client.Status().Update(ctx, u))
		assert.NoError(t, as(t, editor).Delete(ctx, u), "an upgrade that has ended may be deleted")
	})
	t.Run("platform engineer repoints the cluster at a Secret he cannot read", func(t *testing.T) {
		refused(t, as(t, platform).Patch(ctx, cluster(), mergePatch(`{"spec":{"secretRefName":"private"}}`)),
			admission.ClusterPolicy, platform, "may not get secret "+w.secrets+"/private")
	})
	t.Run("platform engineer gives StorageOS a Secret he cannot read", func(t *testing.T) {
		err := as(t, platform).Create(ctx, newCluster(w.deploy, "second", w.secrets, "private"))
		refused(t, err, admission.ClusterPolicy, platform, "may not get secret "+w.secrets+"/private")
		// Whether a Secret exists is not revealed: a missing one is refused with the same words.
		missing := as(t, platform).Create(ctx, newCluster(w.deploy, "second", w.secrets, "no-such-secret"))
		refused(t, missing, admission.ClusterPolicy, platform, "may not get secret "+w.secrets+"/no-such-secret")
		assert.Equal(t, err.Error(), strings.ReplaceAll(missing.Error(), "no-such-secret", "private"))
	})
	t.Run("the upgrade-manager still does an upgrade's changes", func(t *testing.T) {
		um := asServiceAccount(t, names.UpgradeManager)
		require.Eventually(t, func() bool {
			return um.Patch(ctx, cluster(), mergePatch(`{"spec":{"pause":true}}`)) == nil
		}, timeout, tick, "the upgrade-manager pauses the cluster of an upgrade")
		assert.True(t, cluster().Spec.Pause)
		require.NoError(t, um.Patch(ctx, cluster(), mergePatch(`{"spec":{"pause":false}}`)))
		pull := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: w.deploy},
			Spec: storageosv1.JobSpec{Image: "storageos/node:v2.2.0", CompletionWord: "pulled"}}
		require.NoError(t, um.Create(ctx, pull), "the upgrade-manager pre-pulls the new image with a Job")
		require.NoError(t, testEnv.Client.Delete(ctx, pull))
	})
}

// rootJob is the attack the issue names: a root pod mounting the host's / on every node, control planes too.
func rootJob(ns string) *storageosv1.Job {
	return &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "root", Namespace: ns},
		Spec: storageosv1.JobSpec{Image: "evil/shell:1", HostPath: "/", MountPath: "/host", CompletionWord: "done",
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}}}
}

// administrators can still do everything the README shows: create a cluster, pause it, upgrade it, run a Job,
// run an NFS server with their image, delete the cluster.
func administrators(t *testing.T, w *world) {
	ctx := context.Background()
	admin := testEnv.Client
	c := &storageosv1.StorageOSCluster{}
	require.NoError(t, admin.Get(ctx, client.ObjectKeyFromObject(w.cluster), c))
	require.NoError(t, admin.Patch(ctx, c, mergePatch(`{"spec":{"pause":true,"debug":true}}`)))
	require.NoError(t, admin.Patch(ctx, c, mergePatch(`{"spec":{"pause":false}}`)))
	up := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "admin-up", Namespace: w.team},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.2.0"}}
	require.NoError(t, admin.Create(ctx, up))
	require.NoError(t, admin.Delete(ctx, up))
	j := rootJob(w.deploy)
	j.Spec.HostPath, j.Spec.MountPath = "/var/lib", "/var/lib"
	require.NoError(t, admin.Create(ctx, j))
	nfs := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Name: "admin-nfs", Namespace: w.deploy},
		Spec: storageosv1.NFSServerSpec{NFSContainer: "registry.example/nfs:1"}}
	require.NoError(t, admin.Create(ctx, nfs))
	second := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: w.deploy},
		Spec: storageosv1.StorageOSClusterSpec{SecretRefName: "private", SecretRefNamespace: storageosv1.NamespaceName(w.secrets)}}
	require.NoError(t, admin.Create(ctx, second), "an administrator may reference any Secret")
	require.NoError(t, admin.Delete(ctx, second))
	require.NoError(t, admin.Delete(ctx, c))
}
