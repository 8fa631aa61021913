//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// The whole life of a StorageOS cluster, in the order a user lives it; the faults run on the same cluster
// before it is deleted.
func TestOperatorOnASimulatedCluster(t *testing.T) {
	steps := []struct {
		name string
		run  func(*testing.T)
	}{
		{"install: Running on every node", testInstall},
		{"secrets: StorageOS password rotated; only used keys copied", testPasswordRotation},
		{"spec edit: rolled", testSpecEdit},
		{"webhook: StorageOS pods go to the StorageOS scheduler", testWebhook},
		{"nfs: the original's NFSServer served, edited, deleted; ReadWriteMany pods admitted", testNFSServer},
		{"cleanup job: completed on every node", testCleanupJob},
		{"upgrade: apps down, nodes rolled, apps back", testUpgrade},
		{"prometheus: every binary scraped, the objects' metrics there, no alert firing", testMetricsInPrometheus},
		{"fault: cluster-manager leader killed", testClusterManagerLeaderKilled},
		{"fault: job-manager leader killed", testJobManagerLeaderKilled},
		{"fault: upgrade-manager killed at every step", testUpgradeManagerKilledAtEveryStep},
		{"fault: every webhook process killed", testWebhooksKilled},
		{"fault: kube-apiserver restarted", testAPIServerRestarted},
		{"fault: StorageOS API down", testStorageOSAPIDown},
		{"soak: two minutes of seeded user actions and faults, every invariant held", testSoak},
		{"secrets: no Secret value in any manager log, event or status", testNoSecretValueRevealed},
		{"delete: nothing left", testDelete},
		{"uninstall: nothing stuck", testUninstall},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			// Later steps build on earlier ones; their failures would only repeat this one.
			t.FailNow()
		}
	}
}

func testInstall(t *testing.T) {
	ctx := context.Background()
	out, err := env.Kubectl(ctx, "get", "storageoscluster", "-n", demo.SampleNamespace)
	require.NoError(t, err)
	require.Regexp(t, demo.SampleCluster+`\s+3/3\s+Running`, out)
	require.NoError(t, allNodePodsRunning(ctx, desired.DefaultNodeImage))
	eventually(t, timeout, "every component ready", func(ctx context.Context) error {
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		for want, conds := range map[metav1.ConditionStatus][]string{
			metav1.ConditionTrue:  {"Available", "APIReady", "SchedulerReady", "NodeReady", "NodesUpToDate"},
			metav1.ConditionFalse: {"Degraded", "Progressing"},
		} {
			for _, t := range conds {
				if cond := condition(c.Status.Conditions, t); cond == nil || cond.Status != want {
					return fmt.Errorf("%s: %+v", t, cond)
				}
			}
		}
		return nil
	})
	// StorageOS reports a node online once its pod is ready; the status reads it on the next resync.
	eventually(t, timeout, "every node online in the StorageOS API and in the status", func(ctx context.Context) error {
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		online := 0
		for _, h := range c.Status.NodeHealthStatus {
			if h.Health == "online" {
				online++
			}
		}
		if online != 3 {
			return fmt.Errorf("node health %v", c.Status.NodeHealthStatus)
		}
		return nil
	})
	require.NoError(t, hasEvent(ctx, demo.SampleNamespace, demo.SampleCluster, "ChangedStatus"))
}

// A spec edit reaches every object: the node ConfigMap and the StorageOS API (debug), the scheduler
// Deployment (rolled by its controller) and the node DaemonSet's template (tolerations). Node pods are only
// replaced when deleted (OnDelete: storage is never restarted behind the user's back), which the cluster
// reports as RestartPending; deleting them one at a time rolls them.
func testSpecEdit(t *testing.T) {
	ctx := context.Background()
	before, err := nodePods(ctx)
	require.NoError(t, err)
	patchCluster(t, `{"spec":{"debug":true,"tolerations":[{"key":"example.com/maintenance","operator":"Exists","effect":"NoSchedule"}]}}`)
	hasToleration := func(ts []corev1.Toleration) bool {
		return slices.ContainsFunc(ts, func(t corev1.Toleration) bool { return t.Key == "example.com/maintenance" })
	}
	eventually(t, timeout, "log level debug in StorageOS and the scheduler rolled", func(ctx context.Context) error {
		if level := env.Simulator.Cluster().LogLevel; level != "debug" {
			return fmt.Errorf("StorageOS log level %q", level)
		}
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		cond := condition(c.Status.Conditions, "NodesUpToDate")
		if cond == nil || cond.Reason != "RestartPending" {
			return fmt.Errorf("NodesUpToDate %+v", cond)
		}
		sched := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: string(c.Spec.Namespace), Name: names.Scheduler}}
		if err := deploymentReady(ctx, sched, 1); err != nil {
			return err
		}
		pods, err := podsOf(ctx, sched)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if !hasToleration(p.Spec.Tolerations) {
				return fmt.Errorf("scheduler pod %s has the old template", p.Name)
			}
		}
		return nil
	})
	after, err := nodePods(ctx)
	require.NoError(t, err)
	for node, p := range before {
		require.Equal(t, p.UID, after[node].UID, "node pod on %s was restarted by a spec edit", node)
	}
	for node, p := range before {
		require.NoError(t, env.Client.Delete(ctx, &p))
		eventually(t, timeout, "node pod on "+node+" replaced with the new template", func(ctx context.Context) error {
			pods, err := nodePods(ctx)
			if err != nil {
				return err
			}
			n, ok := pods[node]
			if !ok || n.UID == p.UID || !podReady(&n) || !hasToleration(n.Spec.Tolerations) {
				return errors.New("not yet")
			}
			return nil
		})
	}
	eventually(t, timeout, "3/3 Running, NodesUpToDate", func(ctx context.Context) error {
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		if cond := condition(c.Status.Conditions, "NodesUpToDate"); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("NodesUpToDate %+v", cond)
		}
		return env.ClusterReady(ctx, "3/3")
	})
}

const appsNamespace = "apps"

var resourceGi = resource.MustParse("1Gi")

// The API server calls the webhook: pods of a Deployment with a StorageOS claim get the StorageOS scheduler,
// pods with another class's claim or no claim do not.
func testWebhook(t *testing.T) {
	ctx := context.Background()
	createNamespace(t, "webhook")
	other := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Provisioner: "example.com/other"}
	require.NoError(t, env.Client.Create(ctx, other))
	otherClaim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "webhook"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &other.Name, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resourceGi}}}}
	require.NoError(t, env.Client.Create(ctx, otherClaim))

	storageos := storageOSApp(t, "webhook", "with-storageos", 1)
	withOther := demo.Deployment("webhook", "with-other", 1, &corev1.Volume{Name: "data",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "other"}}})
	plain := demo.Deployment("webhook", "plain", 1, nil)
	require.NoError(t, env.Client.Create(ctx, withOther))
	require.NoError(t, env.Client.Create(ctx, plain))
	for d, want := range map[*appsv1.Deployment]string{storageos: "storageos-scheduler", withOther: corev1.DefaultSchedulerName,
		plain: corev1.DefaultSchedulerName} {
		eventually(t, timeout, d.Name+" pods scheduled by "+want, func(ctx context.Context) error {
			pods, err := podsOf(ctx, d)
			if err != nil {
				return err
			}
			if len(pods) == 0 {
				return errors.New("no pod yet")
			}
			for _, p := range pods {
				if p.Spec.SchedulerName != want {
					return fmt.Errorf("pod %s has scheduler %q", p.Name, p.Spec.SchedulerName)
				}
			}
			return nil
		})
	}
	// The StorageOS scheduler placed it (a profile of the local scheduler stands in for it).
	eventually(t, timeout, "the StorageOS app running", func(ctx context.Context) error { return deploymentReady(ctx, storageos, 1) })
	require.NoError(t, env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhook"}}))
}

// The seed's cleanup Job runs on the nodes it selects and completes once each pod printed "done" (kwok
// serves every simulated container's log, see demo.PodLog).
func testCleanupJob(t *testing.T) {
	ctx := context.Background()
	var nodes corev1.NodeList
	require.NoError(t, env.Client.List(ctx, &nodes))
	// The sample selects worker nodes, as the seed README's cluster had them labelled.
	for _, n := range nodes.Items {
		_, err := env.Kubectl(ctx, "label", "node", n.Name, "node-role.kubernetes.io/worker=true", "--overwrite")
		require.NoError(t, err)
	}
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	_, err = env.Kubectl(ctx, "apply", "-n", "default", "-f", filepath.Join(root, "config", "samples", "storageos_v1_job.yaml"))
	require.NoError(t, err)
	job := &storageosv1.Job{}
	eventually(t, timeout, "cleanup-job completed", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "cleanup-job"}, job); err != nil {
			return err
		}
		if !job.Status.Completed || job.Status.NodesCompleted != 3 || job.Status.NodesTotal != 3 {
			return fmt.Errorf("completed %v, %d/%d nodes", job.Status.Completed, job.Status.NodesCompleted, job.Status.NodesTotal)
		}
		return hasEvent(ctx, "default", "cleanup-job", "JobCompleted")
	})
	out, err := env.Kubectl(ctx, "get", "jobs.storageos.com", "-n", "default")
	require.NoError(t, err)
	require.Contains(t, out, "cleanup-job")
	// The job-manager's leader exports the Job as Prometheus scrapes it.
	eventuallyQuery(t, `storageos_job_completed{namespace="default",name="cleanup-job"}`, 1)
	eventuallyQuery(t, `storageos_job_nodes_completed{namespace="default",name="cleanup-job"}`, 3)
	eventuallyQuery(t, `storageos_job_nodes{namespace="default",name="cleanup-job"}`, 3)
	require.NoError(t, env.Client.Delete(ctx, job))
	eventually(t, timeout, "the job and its DaemonSet gone", func(ctx context.Context) error {
		var sets appsv1.DaemonSetList
		if err := env.Client.List(ctx, &sets, client.InNamespace("default")); err != nil {
			return err
		}
		if len(sets.Items) > 0 {
			return fmt.Errorf("%d DaemonSets left in default", len(sets.Items))
		}
		return client.IgnoreNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(job), job))
	})
}

// upgradeApps are the StorageOS-backed applications the upgrades scale down and back, with their replicas.
var upgradeApps = map[string]int32{"web": 3, "db": 1}

func testUpgrade(t *testing.T) {
	ctx := context.Background()
	createNamespace(t, appsNamespace)
	var apps []*appsv1.Deployment
	for name, replicas := range upgradeApps {
		apps = append(apps, storageOSApp(t, appsNamespace, name, replicas))
	}
	bystander := demo.Deployment(appsNamespace, "no-storageos", 2, nil)
	require.NoError(t, env.Client.Create(ctx, bystander))
	for _, d := range append(apps, bystander) {
		eventually(t, timeout, d.Name+" ready", func(ctx context.Context) error { return deploymentReady(ctx, d, replicaCount(d)) })
	}
	// Previewed first: the plan, then started by setting preview to false.
	previewUpgrade(t, "storageos/node:1.0.0", upgradeApps)
	runUpgrade(t, "storageos/node:1.0.0", apps, nil)
	live := &appsv1.Deployment{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(bystander), live))
	require.Equal(t, int64(1), live.Generation, "a Deployment without StorageOS volumes was left alone")
}

func replicaCount(d *appsv1.Deployment) int32 {
	if n, ok := upgradeApps[d.Name]; ok {
		return n
	}
	return *d.Spec.Replicas
}

// upgradeName is the name of the e2e's upgrade to image.
func upgradeName(image string) string {
	return "upgrade-" + strings.NewReplacer("/", "-", ":", "-", ".", "-").Replace(image)
}

// runUpgrade applies a StorageOSUpgrade to image (or starts the one previewUpgrade previewed) and follows it:
// every app scaled to 0 while the nodes roll, the node pods on image, every app back at its replica count,
// UpgradeComplete. atPhase, when set, is called once for every phase seen.
func runUpgrade(t *testing.T, image string, apps []*appsv1.Deployment, atPhase func(storageosv1.UpgradePhase)) {
	t.Helper()
	ctx := context.Background()
	name := upgradeName(image)
	// In the cluster's namespace: an upgrade acts only on the StorageOSCluster of its own.
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: demo.SampleNamespace},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: storageosv1.ImageReference(image)}}
	// One previewed (previewUpgrade) is started by turning the preview off.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err == nil && u.Spec.Preview {
		require.NoError(t, env.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"preview":false}}`))))
	} else {
		require.NoError(t, env.Client.Create(ctx, u))
	}
	scaledToZero := map[string]bool{}
	seen := map[storageosv1.UpgradePhase]bool{}
	// Polled more often than other waits: each phase must be seen while it runs, to kill the manager in it.
	eventuallyEvery(t, 2*timeout, 20*time.Millisecond, "upgrade to "+image+" completed", func(ctx context.Context) error {
		for _, d := range apps {
			live := &appsv1.Deployment{}
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(d), live); err != nil {
				return err
			}
			if *live.Spec.Replicas == 0 {
				scaledToZero[d.Name] = true
			}
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if p := u.Status.Phase; p != "" && !seen[p] {
			seen[p] = true
			t.Logf("upgrade phase %s", p)
			if atPhase != nil {
				atPhase(p)
			}
		}
		if u.Status.Phase == storageosv1.UpgradePhaseFailed {
			return fmt.Errorf("upgrade failed: %+v", u.Status.Conditions)
		}
		if !u.Status.Completed {
			return fmt.Errorf("phase %s", u.Status.Phase)
		}
		return nil
	})
	for _, d := range apps {
		require.True(t, scaledToZero[d.Name], "%s was scaled down during the upgrade", d.Name)
		eventually(t, timeout, d.Name+" back", func(ctx context.Context) error { return deploymentReady(ctx, d, replicaCount(d)) })
	}
	require.NoError(t, allNodePodsRunning(ctx, image))
	eventually(t, timeout, "UpgradeComplete event", func(ctx context.Context) error { return hasEvent(ctx, "default", name, "UpgradeComplete") })
	// As in the seed: the cluster stays in maintenance until the upgrade is deleted.
	c, err := sampleCluster(ctx)
	require.NoError(t, err)
	require.True(t, c.Spec.Pause, "cluster paused until the upgrade is deleted")
	require.True(t, env.Simulator.Maintenance(), "maintenance mode until the upgrade is deleted")
	// The upgrade-manager's leader exports the upgrade as Prometheus scrapes it.
	eventuallyQuery(t, fmt.Sprintf(`storageos_upgrade_status_phase{namespace="default",name=%q,phase="Completed"}`, name), 1)
	eventuallyQuery(t, fmt.Sprintf(`storageos_upgrade_nodes_upgraded{namespace="default",name=%q}`, name), 3)
	eventuallyQuery(t, fmt.Sprintf(`storageos_upgrade_applications_scaled_down{namespace="default",name=%q}`, name), 0)
	require.NoError(t, env.Client.Delete(ctx, u))
	eventually(t, timeout, "upgrade deleted, cluster unpaused, maintenance off, 3/3 Running", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); !apierrors.IsNotFound(err) {
			return fmt.Errorf("upgrade still there (%w)", err)
		}
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		if c.Spec.Pause {
			return errors.New("cluster still paused")
		}
		if env.Simulator.Maintenance() {
			return errors.New("StorageOS still in maintenance mode")
		}
		return env.ClusterReady(ctx, "3/3")
	})
	require.NoError(t, allNodePodsRunning(ctx, image), "the cluster-manager keeps the new image once unpaused")
}

// Deleting the cluster removes every object the operator created for it.
func testDelete(t *testing.T) {
	ctx := context.Background()
	c, err := sampleCluster(ctx)
	require.NoError(t, err)
	require.NoError(t, env.Client.Delete(ctx, c))
	eventually(t, timeout, "the cluster and everything it owned gone", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(c), c); !apierrors.IsNotFound(err) {
			return fmt.Errorf("StorageOSCluster still there (%w)", err)
		}
		return leftovers(ctx, string(c.Spec.Namespace))
	})
}

// leftovers lists what a StorageOS cluster creates that is still there.
func leftovers(ctx context.Context, namespace string) error {
	var found []string
	lists := map[string]client.ObjectList{"DaemonSet": &appsv1.DaemonSetList{}, "Deployment": &appsv1.DeploymentList{},
		"StatefulSet": &appsv1.StatefulSetList{}, "Pod": &corev1.PodList{}, "ConfigMap": &corev1.ConfigMapList{},
		"Secret": &corev1.SecretList{}, "Service": &corev1.ServiceList{}}
	for kind, list := range lists {
		if err := env.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			found = append(found, kind+" "+namespace+"/"+item.(client.Object).GetName())
		}
	}
	var classes storagev1.StorageClassList
	if err := env.Client.List(ctx, &classes); err != nil {
		return err
	}
	for _, sc := range classes.Items {
		if sc.Name == "fast" {
			found = append(found, "StorageClass fast")
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("left: %s", strings.Join(found, ", "))
	}
	return nil
}

// Uninstalling removes the CRDs (and so every StorageOS object) while the operator still runs to release
// its finalizers, then the operator itself: nothing hangs on a finalizer.
func testUninstall(t *testing.T) {
	ctx := context.Background()
	// An upgrade left behind by a user, which the upgrade-manager holds with its finalizer: deleting the CRD
	// deletes it, and only a running upgrade-manager lets it go.
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "left-behind", Namespace: demo.SampleNamespace},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:9.9.9"}}
	require.NoError(t, env.Client.Create(ctx, u))
	eventually(t, timeout, "the upgrade holds its finalizer", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if !slices.Contains(u.Finalizers, upgrade.Finalizer) {
			return fmt.Errorf("finalizers %v", u.Finalizers)
		}
		return nil
	})
	require.NoError(t, env.Uninstall(ctx))
	var crds apiextensionsv1.CustomResourceDefinitionList
	require.NoError(t, env.Client.List(ctx, &crds))
	for _, crd := range crds.Items {
		require.NotEqual(t, storageosv1.GroupVersion.Group, crd.Spec.Group, "CRD %s left", crd.Name)
	}
	err := env.Client.Get(ctx, client.ObjectKey{Name: demo.Namespace}, &corev1.Namespace{})
	require.True(t, apierrors.IsNotFound(err), "namespace %s gone: %v", demo.Namespace, err)
}
