package upgrade

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/metrics"
)

// The upgrade-manager's metrics: each upgrade's step and progress, read from status.progress in the manager's
// cache when Prometheus scrapes (pkg/metrics), so they cost the upgrade no work and say what its status says.
var (
	metricPhase = metrics.NewDesc("storageos_upgrade_status_phase",
		"1 for the upgrade's current phase (status.phase), 0 for the others.", "phase")
	metricApplications = metrics.NewDesc("storageos_upgrade_applications",
		"Applications the upgrade scales down (status.progress.applications).")
	metricApplicationsScaledDown = metrics.NewDesc("storageos_upgrade_applications_scaled_down",
		"Of the applications the upgrade scales down, those currently down (status.progress.applicationsScaledDown).")
	metricNodes = metrics.NewDesc("storageos_upgrade_nodes",
		"StorageOS node pods the upgrade replaces (status.progress.nodes).")
	metricNodesUpgraded = metrics.NewDesc("storageos_upgrade_nodes_upgraded",
		"Of the node pods the upgrade replaces, those running the new image and ready (status.progress.nodesUpgraded).")
	metricStepDuration = metrics.NewDesc("storageos_upgrade_step_duration_seconds",
		"Seconds since the upgrade's current step began (status.phaseStartTime); only while the upgrade has not ended, and not while it previews.", "phase")
	// Tells a failed upgrade that leaves the cluster paused and StorageOS in maintenance mode from one that
	// failed before it paused anything (StorageOSUpgradeFailed is critical for the first only).
	metricClusterPaused = metrics.NewDesc("storageos_upgrade_cluster_paused",
		"1 once the upgrade has paused the cluster and enabled StorageOS maintenance mode, until the upgrade is deleted (status.clusterPaused); 0 before.")
)

// phases are every value of status.phase, so the phase metric always has all of them.
var phases = []string{
	string(storageosv1.UpgradePhasePending), string(storageosv1.UpgradePhasePullingImage), string(storageosv1.UpgradePhasePausing),
	string(storageosv1.UpgradePhaseScalingDown), string(storageosv1.UpgradePhaseUpgrading), string(storageosv1.UpgradePhaseScalingUp),
	string(storageosv1.UpgradePhaseCompleted), string(storageosv1.UpgradePhaseRestoring), string(storageosv1.UpgradePhaseFailed),
}

// registerMetrics exports the upgrades of mgr's cache while this replica leads.
func registerMetrics(mgr ctrl.Manager) error {
	return metrics.Register(newUpgradeCollector(mgr.GetCache(), mgr.Elected(), time.Now))
}

// newUpgradeCollector collects the upgrades reader lists, with step durations as of now(); elected as
// metrics.NewObjectCollector takes it.
func newUpgradeCollector(reader client.Reader, elected <-chan struct{}, now func() time.Time) *metrics.ObjectCollector {
	return metrics.NewObjectCollector(reader, elected,
		func() client.ObjectList { return &storageosv1.StorageOSUpgradeList{} },
		[]*prometheus.Desc{metricPhase, metricApplications, metricApplicationsScaledDown, metricNodes, metricNodesUpgraded, metricStepDuration,
			metricClusterPaused},
		func(o client.Object, e metrics.Emitter) {
			if u, ok := o.(*storageosv1.StorageOSUpgrade); ok {
				emitMetrics(u, now(), e)
			}
		})
}

// emitMetrics writes the samples of one upgrade as of now.
func emitMetrics(u *storageosv1.StorageOSUpgrade, now time.Time, e metrics.Emitter) {
	phase := u.Status.Phase
	if phase == "" {
		phase = storageosv1.UpgradePhasePending // not looked at yet: it waits to start
	}
	e.StateSet(metricPhase, string(phase), phases)
	p := &u.Status.Progress
	e.Gauge(metricApplications, float64(p.Applications))
	e.Gauge(metricApplicationsScaledDown, float64(p.ApplicationsScaledDown))
	e.Gauge(metricNodes, float64(p.Nodes))
	e.Gauge(metricNodesUpgraded, float64(p.NodesUpgraded))
	e.Gauge(metricClusterPaused, metrics.Bool(u.Status.ClusterPaused))
	if phase == storageosv1.UpgradePhaseCompleted || phase == storageosv1.UpgradePhaseFailed {
		return // ended: no step runs, and a duration that kept growing would look stuck
	}
	if u.Spec.Preview && phase == storageosv1.UpgradePhasePending {
		return // a preview waits for its user, for as long as they like: it is not stuck
	}
	start := u.CreationTimestamp.Time // Pending, before its first look, began with the upgrade
	if u.Status.PhaseStartTime != nil {
		start = u.Status.PhaseStartTime.Time
	}
	e.Gauge(metricStepDuration, max(now.Sub(start).Seconds(), 0), string(phase))
}
