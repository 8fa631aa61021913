package upgrade

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// Condition types of a StorageOSUpgrade.
const (
	// ConditionProgressing is True while a step runs, False while the upgrade waits to start or has ended.
	ConditionProgressing = "Progressing"
	// ConditionFailed is True once a step failed; its reason names the step.
	ConditionFailed = "Failed"
)

// Condition reasons.
const (
	ReasonBlocked           = "BlockedByUpgrade"
	ReasonWaitingForCluster = "WaitingForCluster"
	ReasonCompleted         = "Completed"
	ReasonFailed            = "Failed"
	ReasonRestoring         = "RestoringApplications"
	ReasonNoFailure         = "NoFailure"
	ReasonImageUnchanged    = "ImageUnchanged"
	ReasonFinalizing        = "Finalizing"
	// ReasonClaimsWouldBeDeleted: a StatefulSet deletes its PVCs when scaled down.
	ReasonClaimsWouldBeDeleted = "ClaimsWouldBeDeleted"
	// ReasonClusterNotInNamespace: the upgrade is not in the namespace of a StorageOSCluster, the only cluster
	// it may act on, so it is refused.
	ReasonClusterNotInNamespace = "ClusterNotInNamespace"
	// ReasonPreviewing: spec.preview is set; the upgrade shows its plan in status and does nothing else.
	ReasonPreviewing = "Previewing"
	// ReasonUnstoppablePods: pods the upgrade cannot stop use StorageOS volumes (or autoscalers could start an
	// application again), and spec.acceptUnstoppablePods is not set: the upgrade waits.
	ReasonUnstoppablePods = "UnstoppablePods"
)

// Events, with the original operator's reasons and messages where it had them (seed README).
const (
	EventPullImage        = "PullImage"
	EventPauseClusterCtrl = "PauseClusterCtrl"
	EventUpgradeInit      = "UpgradeInit"
	EventUpgradeComplete  = "UpgradeComplete"
	EventUpgradeFailed    = "UpgradeFailed"
	EventBlocked          = "UpgradeBlocked"
	EventFinalizeError    = "CleanupFailed"
	// EventUnstoppablePods: the upgrade waits for pods it cannot stop (once, as the wait begins).
	EventUnstoppablePods = "UnstoppablePods"
	// EventPlanChanged: the upgrade starts from a plan that differs from the one shown before.
	EventPlanChanged = "PlanChanged"
	// EventPlanWarning: the plan's warnings (a downgrade, a major-version change...), once as the upgrade starts.
	EventPlanWarning = "PlanWarning"

	messagePullImage       = "Pulling the new container image"
	messagePauseClusterCtl = "Pausing the cluster controller and enabling cluster maintenance mode"
	messageUpgradeInit     = "StorageOS upgrade of cluster %s started"
	messageUpgradeComplete = "StorageOS upgraded to %s. Delete upgrade object to disable cluster maintenance mode"
)

// setCondition sets a condition stamped with the upgrade's generation; it reports whether anything changed.
func setCondition(u *storageosv1.StorageOSUpgrade, condType string, status metav1.ConditionStatus, reason, message string) bool {
	return kube.SetCondition(&u.Status.Conditions, u.Generation, condType, status, reason, message)
}

// active reports whether a phase is one in which the upgrade acts on the cluster.
func active(p storageosv1.UpgradePhase) bool {
	switch p {
	case storageosv1.UpgradePhasePullingImage, storageosv1.UpgradePhasePausing, storageosv1.UpgradePhaseScalingDown,
		storageosv1.UpgradePhaseUpgrading, storageosv1.UpgradePhaseScalingUp, storageosv1.UpgradePhaseRestoring:
		return true
	}
	return false
}

// timesOut reports whether a step waiting in phase fails once it has waited longer than the step timeout. Restoring
// does not: it must not give up on scaling applications back.
func timesOut(p storageosv1.UpgradePhase) bool {
	return active(p) && p != storageosv1.UpgradePhaseRestoring
}
