package upgrade

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

// An upgrade's status in, its samples out, without an API server.
func TestUpgradeSamples(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-time.Hour))
	stepStart := metav1.NewTime(now.Add(-90 * time.Second))
	const help = `
# HELP storageos_upgrade_applications Applications the upgrade scales down (status.progress.applications).
# TYPE storageos_upgrade_applications gauge
# HELP storageos_upgrade_applications_scaled_down Of the applications the upgrade scales down, those currently down (status.progress.applicationsScaledDown).
# TYPE storageos_upgrade_applications_scaled_down gauge
# HELP storageos_upgrade_cluster_paused 1 once the upgrade has paused the cluster and enabled StorageOS maintenance mode, until the upgrade is deleted (status.clusterPaused); 0 before.
# TYPE storageos_upgrade_cluster_paused gauge
# HELP storageos_upgrade_nodes StorageOS node pods the upgrade replaces (status.progress.nodes).
# TYPE storageos_upgrade_nodes gauge
# HELP storageos_upgrade_nodes_upgraded Of the node pods the upgrade replaces, those running the new image and ready (status.progress.nodesUpgraded).
# TYPE storageos_upgrade_nodes_upgraded gauge
# HELP storageos_upgrade_status_phase 1 for the upgrade's current phase (status.phase), 0 for the others.
# TYPE storageos_upgrade_status_phase gauge
`
	const durationHelp = `# HELP storageos_upgrade_step_duration_seconds Seconds since the upgrade's current step began (status.phaseStartTime); only while the upgrade has not ended, and not while it previews.
# TYPE storageos_upgrade_step_duration_seconds gauge
`
	phaseSamples := func(current string) string {
		var b strings.Builder
		for _, p := range phases {
			v := 0
			if p == current {
				v = 1
			}
			fmt.Fprintf(&b, "storageos_upgrade_status_phase{name=\"u\",namespace=\"ns\",phase=%q} %d\n", p, v)
		}
		return b.String()
	}
	counts := func(apps, down, nodes, upgraded, paused int) string {
		return fmt.Sprintf(`storageos_upgrade_applications{name="u",namespace="ns"} %d
storageos_upgrade_applications_scaled_down{name="u",namespace="ns"} %d
storageos_upgrade_cluster_paused{name="u",namespace="ns"} %d
storageos_upgrade_nodes{name="u",namespace="ns"} %d
storageos_upgrade_nodes_upgraded{name="u",namespace="ns"} %d
`, apps, down, paused, nodes, upgraded)
	}
	progress := func(apps, down, nodes, upgraded int32) storageosv1.UpgradeProgress {
		return storageosv1.UpgradeProgress{Applications: apps, ApplicationsScaledDown: down, Nodes: nodes, NodesUpgraded: upgraded}
	}
	for _, tc := range []struct {
		name    string
		preview bool
		status  storageosv1.StorageOSUpgradeStatus
		want    string
	}{
		{"new, not looked at yet: Pending since its creation", false, storageosv1.StorageOSUpgradeStatus{},
			counts(0, 0, 0, 0, 0) + durationHelp +
				`storageos_upgrade_step_duration_seconds{name="u",namespace="ns",phase="Pending"} 3600
` + phaseSamples("Pending")},
		{"previewing: waits for its user, so no step runs", true, storageosv1.StorageOSUpgradeStatus{Phase: storageosv1.UpgradePhasePending,
			PhaseStartTime: &stepStart, Progress: progress(200, 0, 100, 0)},
			counts(200, 0, 100, 0, 0) + phaseSamples("Pending")},
		{"scaling down", false, storageosv1.StorageOSUpgradeStatus{Phase: storageosv1.UpgradePhaseScalingDown, PhaseStartTime: &stepStart,
			ClusterPaused: true, Progress: progress(200, 120, 100, 0)},
			counts(200, 120, 100, 0, 1) + durationHelp +
				`storageos_upgrade_step_duration_seconds{name="u",namespace="ns",phase="ScalingDown"} 90
` + phaseSamples("ScalingDown")},
		{"upgrading nodes", false, storageosv1.StorageOSUpgradeStatus{Phase: storageosv1.UpgradePhaseUpgrading, PhaseStartTime: &stepStart,
			ClusterPaused: true, Progress: progress(200, 200, 100, 37)},
			counts(200, 200, 100, 37, 1) + durationHelp +
				`storageos_upgrade_step_duration_seconds{name="u",namespace="ns",phase="Upgrading"} 90
` + phaseSamples("Upgrading")},
		{"completed: no step runs, the cluster stays paused until the upgrade is deleted", false, storageosv1.StorageOSUpgradeStatus{
			Phase: storageosv1.UpgradePhaseCompleted, PhaseStartTime: &stepStart, Completed: true, ClusterPaused: true,
			Progress: progress(200, 0, 100, 100)},
			counts(200, 0, 100, 100, 1) + phaseSamples("Completed")},
		{"failed after pausing the cluster: no step runs, the cluster stays paused", false, storageosv1.StorageOSUpgradeStatus{
			Phase: storageosv1.UpgradePhaseFailed, PhaseStartTime: &stepStart, ClusterPaused: true, Progress: progress(200, 0, 100, 12)},
			counts(200, 0, 100, 12, 1) + phaseSamples("Failed")},
		{"refused at its preconditions: failed, the cluster never paused", false, storageosv1.StorageOSUpgradeStatus{
			Phase: storageosv1.UpgradePhaseFailed, PhaseStartTime: &stepStart},
			counts(0, 0, 0, 0, 0) + phaseSamples("Failed")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "u", CreationTimestamp: created},
				Spec: storageosv1.StorageOSUpgradeSpec{Preview: tc.preview}, Status: tc.status}
			reader := fake.NewClientBuilder().WithScheme(manager.NewScheme()).WithObjects(u).Build()
			c := newUpgradeCollector(reader, nil, func() time.Time { return now })
			require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(help+tc.want)))
		})
	}
}
