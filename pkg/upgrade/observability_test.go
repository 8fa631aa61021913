//go:build !mutation

package upgrade_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// What an upgrade shows of itself as it goes: status.progress, the columns of kubectl get and the metrics
// Prometheus scrapes from the upgrade-manager's secure endpoint, with one application down, one node upgraded,
// and once completed.
func TestProgressIsShownAsTheUpgradeGoes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	m := startManager(t, managerOptions{metrics: true})
	token := testEnv.MetricsReaderToken(t, w.cluster.Namespace)
	w.holdAppPods.Store(true)
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	of := map[string]string{"namespace": u.Namespace, "name": u.Name}
	waitPhase(t, u, storageosv1.UpgradePhaseScalingDown)

	// One application's pods go; the others' stay: 1 of 3 applications is down.
	deletePods(t, w.appNS, "scratch")
	got := waitProgress(t, u, "applications scaled down 1/3")
	assert.Equal(t, storageosv1.UpgradePhaseScalingDown, got.Status.Phase)
	assert.Equal(t, storageosv1.UpgradeProgress{StartTime: got.Status.Progress.StartTime, Applications: 3, ApplicationsScaledDown: 1,
		Nodes: 3, ApplicationsSummary: "1/3", NodesSummary: "0/3", Message: "applications scaled down 1/3"}, got.Status.Progress)
	require.NotNil(t, got.Status.Progress.StartTime, "the upgrade's start is recorded")
	assert.False(t, got.Status.Progress.StartTime.After(got.Status.PhaseStartTime.Time), "the upgrade started before its step")
	row := upgradeRow(t, u)
	assert.Equal(t, []string{u.Name, newImage, "ScalingDown", "1/3", "0/3", "false"},
		[]string{row["NAME"], row["IMAGE"], row["STATUS"], row["APPS DOWN"], row["NODES UPGRADED"], row["COMPLETED"]})
	assert.Regexp(t, `^\d+s$`, row["SINCE"], "time in the step")
	metrics := envtest.ScrapeUntil(t, m.metricsAddr, token, timeout, "storageos_upgrade_", func(s envtest.Metrics) bool {
		return s.Get("storageos_upgrade_applications_scaled_down", of) == 1
	}, "one application down is exported")
	assertPhaseMetric(t, metrics, of, storageosv1.UpgradePhaseScalingDown)
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_applications", of))
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_nodes", of))
	assert.Equal(t, 0.0, metrics.Get("storageos_upgrade_nodes_upgraded", of))
	assert.GreaterOrEqual(t, metrics.Get("storageos_upgrade_step_duration_seconds", withPhase(of, "ScalingDown")), 0.0,
		"the step's duration is exported while it runs")
	assert.Equal(t, 1.0, metrics.Get("storageos_upgrade_cluster_paused", of),
		"the upgrade paused the cluster and enabled maintenance mode before scaling down")

	// Every application down; the node pods are deleted and do not come back, but one that is started by hand.
	w.holdNodePods.Store(true)
	w.holdAppPods.Store(false)
	waitPhase(t, u, storageosv1.UpgradePhaseUpgrading)
	require.Eventually(t, func() bool { return len(w.nodePods()) == 0 }, timeout, tick, "the old node pods are deleted")
	w.createPod(ctx, nodeDaemonSet(t, w).Spec.Template, map[string]string{"node": w.nodes[0]}, nil)
	got = waitProgress(t, u, "nodes upgraded 1/3")
	assert.Equal(t, int32(3), got.Status.Progress.ApplicationsScaledDown, "every application stays down")
	row = upgradeRow(t, u)
	assert.Equal(t, []string{"Upgrading", "3/3", "1/3"}, []string{row["STATUS"], row["APPS DOWN"], row["NODES UPGRADED"]})
	metrics = envtest.ScrapeUntil(t, m.metricsAddr, token, timeout, "storageos_upgrade_", func(s envtest.Metrics) bool {
		return s.Get("storageos_upgrade_nodes_upgraded", of) == 1
	}, "one node upgraded is exported")
	assertPhaseMetric(t, metrics, of, storageosv1.UpgradePhaseUpgrading)
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_applications_scaled_down", of))
	assert.GreaterOrEqual(t, metrics.Get("storageos_upgrade_step_duration_seconds", withPhase(of, "Upgrading")), 0.0)
	assert.Equal(t, -1.0, metrics.Get("storageos_upgrade_step_duration_seconds", withPhase(of, "ScalingDown")),
		"only the current step has a duration")

	w.holdNodePods.Store(false)
	assertCompleted(t, w, u, true)
	got = get(t, u)
	assert.Equal(t, "nodes upgraded 3/3, applications scaled up 3/3", got.Status.Progress.Message)
	assert.Equal(t, "0/3", got.Status.Progress.ApplicationsSummary)
	assert.Equal(t, "3/3", got.Status.Progress.NodesSummary)
	out, err := testEnv.Kubectl(ctx, "get", "storageosupgrade", "-n", u.Namespace)
	require.NoError(t, err)
	t.Logf("kubectl get storageosupgrade:\n%s", out)
	row = upgradeRow(t, u)
	assert.Equal(t, []string{"Completed", "0/3", "3/3", "true"}, []string{row["STATUS"], row["APPS DOWN"], row["NODES UPGRADED"], row["COMPLETED"]})
	wide, err := testEnv.Kubectl(ctx, "get", "storageosupgrade", "-n", u.Namespace, "-o", "wide")
	require.NoError(t, err)
	t.Logf("kubectl get storageosupgrade -o wide:\n%s", wide)
	assert.Contains(t, wide, "nodes upgraded 3/3, applications scaled up 3/3")
	metrics = envtest.ScrapeUntil(t, m.metricsAddr, token, timeout, "storageos_upgrade_", func(s envtest.Metrics) bool {
		phase, _ := s.Value("storageos_upgrade_status_phase", withPhase(of, "Completed"))
		return phase == 1
	}, "the completed upgrade is exported")
	assertPhaseMetric(t, metrics, of, storageosv1.UpgradePhaseCompleted)
	assert.Equal(t, 0.0, metrics.Get("storageos_upgrade_applications_scaled_down", of))
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_applications", of))
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_nodes_upgraded", of))
	assert.Equal(t, 3.0, metrics.Get("storageos_upgrade_nodes", of))
	assert.Zero(t, metrics.Count("storageos_upgrade_step_duration_seconds", of), "an ended upgrade has no step running")
	assert.Equal(t, 1.0, metrics.Get("storageos_upgrade_cluster_paused", of),
		"the cluster stays paused in maintenance mode until the upgrade is deleted")

	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// An upgrade refused at its preconditions is exported as failed with the cluster not paused: what tells it
// from a failure that leaves the cluster paused in maintenance mode (StorageOSUpgradeFailed is critical only
// for that one).
func TestARefusedUpgradeIsExportedWithTheClusterNotPaused(t *testing.T) {
	w := newWorld(t)
	m := startManager(t, managerOptions{metrics: true})
	token := testEnv.MetricsReaderToken(t, w.cluster.Namespace)
	u := createUpgrade(t, w.cluster.Namespace, oldImage) // the image the cluster runs: refused
	of := map[string]string{"namespace": u.Namespace, "name": u.Name}
	got, _ := waitFailed(t, u)
	require.False(t, got.Status.ClusterPaused)
	metrics := envtest.ScrapeUntil(t, m.metricsAddr, token, timeout, "storageos_upgrade_", func(s envtest.Metrics) bool {
		return s.Get("storageos_upgrade_status_phase", withPhase(of, "Failed")) == 1
	}, "the failed upgrade is exported")
	assertPhaseMetric(t, metrics, of, storageosv1.UpgradePhaseFailed)
	assert.Equal(t, 0.0, metrics.Get("storageos_upgrade_cluster_paused", of), "the refused upgrade paused nothing")
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// deletePods deletes the pods of an application, as its controller would once it is scaled to zero.
func deletePods(t *testing.T, ns, app string) {
	t.Helper()
	require.NoError(t, testEnv.Client.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns), client.MatchingLabels{"app": app}))
}

// waitProgress waits until the upgrade's progress says message, and returns the upgrade.
func waitProgress(t *testing.T, u *storageosv1.StorageOSUpgrade, message string) *storageosv1.StorageOSUpgrade {
	t.Helper()
	var got *storageosv1.StorageOSUpgrade
	require.Eventually(t, func() bool {
		got = get(t, u)
		return got.Status.Progress.Message == message
	}, timeout, tick, "progress never said %q", message)
	return got
}

// upgradeRow is the upgrade's row of kubectl get storageosupgrade, by column. Cells are separated by two or
// more spaces, as kubectl pads them; no cell here is empty.
func upgradeRow(t *testing.T, u *storageosv1.StorageOSUpgrade) map[string]string {
	t.Helper()
	out, err := testEnv.Kubectl(context.Background(), "get", "storageosupgrade", "-n", u.Namespace, u.Name)
	require.NoError(t, err)
	t.Logf("kubectl get storageosupgrade %s:\n%s", u.Name, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	cells := regexp.MustCompile(`\s{2,}`)
	header, row := cells.Split(strings.TrimSpace(lines[0]), -1), cells.Split(strings.TrimSpace(lines[1]), -1)
	require.Equal(t, []string{"NAME", "IMAGE", "STATUS", "SINCE", "APPS DOWN", "NODES UPGRADED", "UNSTOPPABLE", "COMPLETED", "AGE"}, header, out)
	require.Len(t, row, len(header), out)
	byColumn := map[string]string{}
	for i, h := range header {
		byColumn[h] = row[i]
	}
	return byColumn
}

func withPhase(of map[string]string, phase string) map[string]string {
	return map[string]string{"namespace": of["namespace"], "name": of["name"], "phase": phase}
}

// assertPhaseMetric checks that the phase metric is 1 for phase and 0 for every other phase.
func assertPhaseMetric(t *testing.T, m envtest.Metrics, of map[string]string, phase storageosv1.UpgradePhase) {
	t.Helper()
	assert.Equal(t, 9, m.Count("storageos_upgrade_status_phase", of), "one sample per phase")
	for _, p := range []storageosv1.UpgradePhase{storageosv1.UpgradePhasePending, storageosv1.UpgradePhasePullingImage,
		storageosv1.UpgradePhasePausing, storageosv1.UpgradePhaseScalingDown, storageosv1.UpgradePhaseUpgrading,
		storageosv1.UpgradePhaseScalingUp, storageosv1.UpgradePhaseCompleted, storageosv1.UpgradePhaseRestoring,
		storageosv1.UpgradePhaseFailed} {
		want := 0.0
		if p == phase {
			want = 1
		}
		assert.Equal(t, want, m.Get("storageos_upgrade_status_phase", withPhase(of, string(p))), "phase %s", p)
	}
}
