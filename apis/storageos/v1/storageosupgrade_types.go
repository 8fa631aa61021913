package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageOSUpgradeSpec is the StorageOS version to upgrade the cluster to.
type StorageOSUpgradeSpec struct {
	// NewImage is the StorageOS node container image to upgrade to. It cannot be changed once the
	// upgrade exists: an upgrade in flight must finish or be deleted before another image is chosen.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="newImage is immutable: create a new StorageOSUpgrade for another image"
	NewImage ImageReference `json:"newImage"`

	// Preview computes the upgrade's plan and shows it in status.plan without pausing, scaling or pulling
	// anything: the applications it will scale down, the pods it cannot stop, the nodes whose StorageOS pod it
	// replaces, the image change and its warnings. The plan follows the cluster while previewing. Setting it to
	// false starts the upgrade from a freshly computed plan (an event says how it differs from the one shown).
	// It cannot be set to true again: once started, an upgrade runs to its end or is deleted.
	// +kubebuilder:default=false
	// +kubebuilder:validation:XValidation:rule="!self || oldSelf",message="spec.preview can only be turned off (which starts the upgrade): to preview again, delete this upgrade and create one with preview: true"
	// +optional
	Preview bool `json:"preview"`

	// AcceptUnstoppablePods lets the upgrade take StorageOS offline although pods it cannot stop use StorageOS
	// volumes (status.plan.unstoppablePods: bare pods, Jobs' and CronJobs' pods, DaemonSets' pods, pods of other
	// controllers), or autoscalers could start an application again while it runs (status.plan.autoscalers with
	// handling Blocks). Those pods keep their volumes mounted while the StorageOS node pods are replaced, which
	// can lose or corrupt the data they write: without this field the upgrade waits until they are gone.
	// +kubebuilder:default=false
	// +optional
	AcceptUnstoppablePods bool `json:"acceptUnstoppablePods"`
}

// UpgradePhase is the step an upgrade has reached. Each step is written before it acts, so an
// upgrade-manager that restarts resumes from here.
type UpgradePhase string

// The phases of a StorageOSUpgrade.
const (
	UpgradePhasePending      UpgradePhase = "Pending"
	UpgradePhasePullingImage UpgradePhase = "PullingImage"
	UpgradePhasePausing      UpgradePhase = "Pausing"
	UpgradePhaseScalingDown  UpgradePhase = "ScalingDown"
	UpgradePhaseUpgrading    UpgradePhase = "Upgrading"
	UpgradePhaseScalingUp    UpgradePhase = "ScalingUp"
	UpgradePhaseCompleted    UpgradePhase = "Completed"
	// UpgradePhaseRestoring scales the applications back after a failed step, before Failed.
	UpgradePhaseRestoring UpgradePhase = "Restoring"
	UpgradePhaseFailed    UpgradePhase = "Failed"
)

// ClusterReference names the StorageOSCluster an upgrade acts on.
type ClusterReference struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// WorkloadKind is a kind of application workload the upgrade scales down.
// +kubebuilder:validation:Enum=Deployment;StatefulSet
type WorkloadKind string

// The kinds of workload an upgrade scales down.
const (
	WorkloadKindDeployment  WorkloadKind = "Deployment"
	WorkloadKindStatefulSet WorkloadKind = "StatefulSet"
)

// ScaledWorkload is an application the upgrade scaled down, with the replica count to restore.
type ScaledWorkload struct {
	// Kind is Deployment or StatefulSet.
	Kind WorkloadKind `json:"kind"`
	// Namespace of the workload.
	Namespace string `json:"namespace"`
	// Name of the workload.
	Name string `json:"name"`
	// Replicas is the workload's replica count before the upgrade scaled it down.
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas"`
}

// PlanListMax is how many entries each list of an UpgradePlan holds at most; the rest are counted in its
// *Omitted field. A plan is written into the upgrade's status, and an object is at most about 1.5 MB in etcd:
// full lists of entries whose every name has the longest length Kubernetes allows (253 characters, namespaces
// 63) and PlanClaimsMax claims come to about 0.9 MB, so the plan fits on a cluster of any size (test/crd
// writes that plan). With names of common length a full plan is about 100 kB. (The schema's maxItems say the
// same.)
const PlanListMax = 200

// PlanClaimsMax is how many claims a plan entry names at most; an entry with more names PlanClaimsMax-1 and
// ends with "+N more".
const PlanClaimsMax = 4

// PlanWarningsMax is how many warnings a plan holds at most.
const PlanWarningsMax = 20

// UpgradePlan is what an upgrade will do, computed before it does anything: with spec.preview it is all the
// upgrade does. Lists are sorted (applications by kind, namespace and name; pods and autoscalers by namespace
// and name) and hold at most 200 entries each; the counts in summary are the totals.
type UpgradePlan struct {
	// FromImage is the node image the cluster runs now, as the node DaemonSet's template names it.
	// +optional
	FromImage string `json:"fromImage,omitempty"`

	// ToImage is the node image the upgrade installs: spec.newImage.
	// +optional
	ToImage string `json:"toImage,omitempty"`

	// Summary counts what the lists hold, in full, for kubectl get.
	// +kubebuilder:default={}
	// +optional
	Summary PlanSummary `json:"summary"`

	// Applications are the Deployments and StatefulSets using StorageOS volumes that the upgrade scales to zero
	// and back: at most 500, the rest counted in applicationsOmitted.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Applications []PlannedApplication `json:"applications,omitempty"`

	// ApplicationsOmitted is how many applications are not listed ("+N more").
	// +kubebuilder:validation:Minimum=0
	// +optional
	ApplicationsOmitted int32 `json:"applicationsOmitted,omitempty"`

	// UnstoppablePods are the pods using StorageOS volumes that the upgrade cannot stop: scaling the
	// applications down does not remove them, so their volumes stay mounted while StorageOS is replaced. The
	// upgrade does not start while there are any, unless spec.acceptUnstoppablePods. At most 500, the rest
	// counted in unstoppablePodsOmitted.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	UnstoppablePods []UnstoppablePod `json:"unstoppablePods,omitempty"`

	// UnstoppablePodsOmitted is how many unstoppable pods are not listed ("+N more").
	// +kubebuilder:validation:Minimum=0
	// +optional
	UnstoppablePodsOmitted int32 `json:"unstoppablePodsOmitted,omitempty"`

	// Autoscalers are the HorizontalPodAutoscalers of applications the upgrade scales down, with what the
	// upgrade does about each. At most 500, the rest counted in autoscalersOmitted.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Autoscalers []PlannedAutoscaler `json:"autoscalers,omitempty"`

	// AutoscalersOmitted is how many autoscalers are not listed ("+N more").
	// +kubebuilder:validation:Minimum=0
	// +optional
	AutoscalersOmitted int32 `json:"autoscalersOmitted,omitempty"`

	// Warnings are what the user should know before the upgrade starts (a downgrade, a major-version change,
	// another image repository, a tag that is not a version, StatefulSets that would lose their claims). They
	// never stop the upgrade by themselves. At most 20.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Warnings []string `json:"warnings,omitempty"`
}

// PlanSummary counts a plan, for printer columns and alerts. Defaulted so that the columns read 0, not blank.
type PlanSummary struct {
	// Applications is how many applications the upgrade scales down.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	Applications int32 `json:"applications"`

	// UnstoppablePods is how many pods use StorageOS volumes that the upgrade cannot stop.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	UnstoppablePods int32 `json:"unstoppablePods"`

	// Autoscalers is how many HorizontalPodAutoscalers target an application the upgrade scales down.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	Autoscalers int32 `json:"autoscalers"`

	// BlockingAutoscalers is how many of those could start their application again while the upgrade runs
	// (handling Blocks): like unstoppable pods, they hold the upgrade back unless spec.acceptUnstoppablePods.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	BlockingAutoscalers int32 `json:"blockingAutoscalers"`

	// Nodes is how many StorageOS node pods the upgrade replaces: those the node DaemonSet schedules. A count,
	// not a list: a cluster can have thousands of nodes.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	Nodes int32 `json:"nodes"`
}

// PlannedApplication is an application the upgrade will scale to zero, and back to replicas.
type PlannedApplication struct {
	// Kind is Deployment or StatefulSet.
	Kind WorkloadKind `json:"kind"`
	// Namespace of the workload.
	Namespace string `json:"namespace"`
	// Name of the workload.
	Name string `json:"name"`
	// Replicas is the workload's replica count now, which the upgrade will restore.
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas"`
	// Claims are the PersistentVolumeClaims that make it a StorageOS application: a claim's name, or the pattern
	// of the claims a template makes (<template>-<statefulset>-* for a volumeClaimTemplate,
	// <workload>-*-<volume> for a generic ephemeral volume). At most 8; the last then says "+N more".
	// +kubebuilder:validation:MaxItems=4
	// +listType=atomic
	// +optional
	Claims []string `json:"claims,omitempty"`
}

// UnstoppableReason is why the upgrade cannot stop a pod.
// +kubebuilder:validation:Enum=NoOwner;Job;CronJob;DaemonSet;OtherOwner;OwnerNotFound;OwnerNotScaled
type UnstoppableReason string

// Why the upgrade cannot stop a pod that uses StorageOS volumes.
const (
	// UnstoppableNoOwner is a bare pod: no controller owns it, and deleting it would lose it for good.
	UnstoppableNoOwner UnstoppableReason = "NoOwner"
	// UnstoppableJob is a Job's pod: a Job runs to completion and has no replicas to scale.
	UnstoppableJob UnstoppableReason = "Job"
	// UnstoppableCronJob is the pod of a Job a CronJob started; the CronJob may start more.
	UnstoppableCronJob UnstoppableReason = "CronJob"
	// UnstoppableDaemonSet is a DaemonSet's pod: a DaemonSet runs one on every node it selects, and has no
	// replicas to scale.
	UnstoppableDaemonSet UnstoppableReason = "DaemonSet"
	// UnstoppableOtherOwner is a pod of another controller (another operator's custom resource, a bare
	// ReplicaSet, a ReplicationController): the upgrade does not know how to stop it.
	UnstoppableOtherOwner UnstoppableReason = "OtherOwner"
	// UnstoppableOwnerNotFound is a pod whose owner (or the Deployment of its ReplicaSet) was not found: created
	// after the plan's look, or deleted with the pod still going.
	UnstoppableOwnerNotFound UnstoppableReason = "OwnerNotFound"
	// UnstoppableOwnerNotScaled is a pod of a Deployment or StatefulSet that the upgrade does not scale down: one
	// scaled to zero whose pods are still going, or one whose current pod template uses no StorageOS volume while
	// pods of an earlier template (a rollout in progress) still do.
	UnstoppableOwnerNotScaled UnstoppableReason = "OwnerNotScaled"
)

// UnstoppablePod is a pod using StorageOS volumes that the upgrade cannot stop.
type UnstoppablePod struct {
	// Namespace of the pod.
	Namespace string `json:"namespace"`
	// Name of the pod.
	Name string `json:"name"`
	// OwnerKind is the kind of the pod's controller, followed up to the object the user manages (a CronJob for
	// its Jobs' pods, a Deployment for its ReplicaSets' pods), or None for a bare pod.
	OwnerKind string `json:"ownerKind"`
	// OwnerName is that controller's name; empty for a bare pod.
	// +optional
	OwnerName string `json:"ownerName,omitempty"`
	// Reason is why the upgrade cannot stop the pod.
	Reason UnstoppableReason `json:"reason"`
	// Claims are the pod's StorageOS PersistentVolumeClaims (for a generic ephemeral volume, <pod>-<volume>). At
	// most 8; the last then says "+N more".
	// +kubebuilder:validation:MaxItems=4
	// +listType=atomic
	// +optional
	Claims []string `json:"claims,omitempty"`
}

// AutoscalerHandling is what the upgrade does about an autoscaler of an application it scales down.
// +kubebuilder:validation:Enum=None;Blocks
type AutoscalerHandling string

// What the upgrade does about a HorizontalPodAutoscaler of an application it scales down.
const (
	// AutoscalerHandlingNone: nothing. Kubernetes stops autoscaling a target scaled to zero (the autoscaler's
	// ScalingActive condition turns False, reason ScalingDisabled) and resumes once the upgrade restores its
	// replicas, so the autoscaler does not fight the scale-down.
	AutoscalerHandlingNone AutoscalerHandling = "None"
	// AutoscalerHandlingBlocks: the autoscaler has minReplicas 0 (the HPAScaleToZero feature), so it keeps
	// autoscaling at zero and could start the application again while StorageOS is offline. Like an
	// unstoppable pod it holds the upgrade back until its minReplicas is at least 1, it is deleted, or
	// spec.acceptUnstoppablePods.
	AutoscalerHandlingBlocks AutoscalerHandling = "Blocks"
)

// PlannedAutoscaler is a HorizontalPodAutoscaler targeting an application the upgrade scales down.
type PlannedAutoscaler struct {
	// Namespace of the autoscaler (and of its target).
	Namespace string `json:"namespace"`
	// Name of the autoscaler.
	Name string `json:"name"`
	// TargetKind is the kind of the application it scales.
	TargetKind WorkloadKind `json:"targetKind"`
	// TargetName is the name of the application it scales.
	TargetName string `json:"targetName"`
	// MinReplicas is the autoscaler's minReplicas (1 when it sets none).
	// +kubebuilder:validation:Minimum=0
	MinReplicas int32 `json:"minReplicas"`
	// Handling is what the upgrade does about it.
	Handling AutoscalerHandling `json:"handling"`
}

// UpgradeProgress is what an upgrade has done of what it has to do, as its steps last observed it. The counts
// are written with the step's own status write, never one write per application or node, and are observed
// afresh on each look, so a restarted upgrade-manager shows the same figures.
type UpgradeProgress struct {
	// StartTime is when the upgrade left Pending: its work began (the image pull).
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`

	// Applications is how many applications (Deployments and StatefulSets using StorageOS volumes) the upgrade
	// scales down: those it recorded in workloads, or before ScalingDown those it found when it started.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	Applications int32 `json:"applications"`

	// ApplicationsScaledDown is how many of those are down: scaled to zero with no pod left while scaling down,
	// not ready again yet while scaling back up. It rises to applications in ScalingDown, stays there while the
	// nodes are upgraded, and falls to 0 in ScalingUp. After a failed step the applications are scaled back
	// without waiting for them (Restoring), and count as up once scaled back.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	ApplicationsScaledDown int32 `json:"applicationsScaledDown"`

	// Nodes is how many StorageOS node pods the upgrade replaces: those the node DaemonSet schedules.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	Nodes int32 `json:"nodes"`

	// NodesUpgraded is how many node pods run newImage and are ready.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +optional
	NodesUpgraded int32 `json:"nodesUpgraded"`

	// ApplicationsSummary is applicationsScaledDown/applications, e.g. "120/200": a printer column shows one
	// field, and the pair reads as a fraction, as a cluster's ready does.
	// +kubebuilder:default="0/0"
	// +optional
	ApplicationsSummary string `json:"applicationsSummary,omitempty"`

	// NodesSummary is nodesUpgraded/nodes, e.g. "37/100".
	// +kubebuilder:default="0/0"
	// +optional
	NodesSummary string `json:"nodesSummary,omitempty"`

	// Message says the current step's figure in words, e.g. "applications scaled down 120/200".
	// +optional
	Message string `json:"message,omitempty"`
}

// StorageOSUpgradeStatus is the progress of an upgrade.
type StorageOSUpgradeStatus struct {
	// Phase is the step the upgrade has reached.
	// +optional
	Phase UpgradePhase `json:"phase,omitempty"`

	// Completed is true once the cluster runs newImage and every application is scaled back.
	// Defaulted so that the COMPLETED column reads false, not blank, once the upgrade has a status: status is
	// written as patches, which leave out what did not change from Go's zero value.
	// +kubebuilder:default=false
	// +optional
	Completed bool `json:"completed"`

	// PhaseStartTime is when the current phase began.
	// +optional
	PhaseStartTime *metav1.Time `json:"phaseStartTime,omitempty"`

	// PhaseProgress is the most of its work the current phase has counted done: nodes that pulled the image,
	// applications scaled down, nodes upgraded, applications back up.
	// +optional
	PhaseProgress int32 `json:"phaseProgress,omitempty"`

	// PhaseProgressTime is when the current phase last counted more done than ever before (phaseProgress rose).
	// A phase fails once it has gone the upgrade-manager's step timeout without progress (from its start until
	// it first progresses), so that a large cluster that keeps progressing is not cut short, and one that is
	// stuck, or whose count only dips and recovers, fails all the same.
	// +optional
	PhaseProgressTime *metav1.Time `json:"phaseProgressTime,omitempty"`

	// Cluster is the StorageOSCluster being upgraded, recorded when the upgrade starts.
	// +optional
	Cluster *ClusterReference `json:"cluster,omitempty"`

	// PreviousImage is the node image the cluster ran before the upgrade: what to give newImage to roll back.
	// +optional
	PreviousImage string `json:"previousImage,omitempty"`

	// ClusterPaused is true once this upgrade has paused the cluster and enabled StorageOS maintenance
	// mode. Deleting the upgrade then restores the applications, disables maintenance mode and unpauses.
	// +optional
	ClusterPaused bool `json:"clusterPaused,omitempty"`

	// ClusterWasPaused is true when the cluster's spec.pause was already set before the upgrade: deleting the
	// upgrade then leaves it paused.
	// +optional
	ClusterWasPaused bool `json:"clusterWasPaused,omitempty"`

	// Workloads are the applications scaled down for the upgrade and their original replica counts.
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=namespace
	// +listMapKey=name
	// +optional
	Workloads []ScaledWorkload `json:"workloads,omitempty"`

	// Progress counts what the upgrade has done of what it has to do, for kubectl get, dashboards and alerts.
	// +kubebuilder:default={}
	// +optional
	Progress UpgradeProgress `json:"progress"`

	// Plan is what the upgrade will do, computed before it does anything: with spec.preview it is all the
	// upgrade does, kept current as the cluster changes.
	// +kubebuilder:default={}
	// +optional
	Plan UpgradePlan `json:"plan"`

	// Conditions are the latest observations of the upgrade's state.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the status was last reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// No child carries an upgrade's name in a label today (its image-pull Job has a fixed name and is found by the
// upgrade's UID); only the scaled workloads' annotation does, which has no such limit. It is held to 63
// characters all the same, the limit of every other kind here, so that it stays usable as a label value (by a
// label of ours or the user's tooling); upgrades are named by people, so this costs nothing. Checked on create
// only: the name cannot change, and an upgrade stored before stays deletable.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || size(self.metadata.name) <= 63",optionalOldSelf=true,fieldPath=".metadata",message="metadata.name must be at most 63 characters, so that it fits a label value like the names of the other storageos.com kinds"

// StorageOSUpgrade is an offline upgrade of the StorageOS cluster to a new node image. Delete it once
// completed to take the cluster out of maintenance mode. Its name is at most 63 characters.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=storageos
// +kubebuilder:printcolumn:name="IMAGE",type="string",JSONPath=".spec.newImage"
// +kubebuilder:printcolumn:name="STATUS",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="SINCE",type="date",JSONPath=".status.phaseStartTime",description="Time in the current step"
// +kubebuilder:printcolumn:name="APPS DOWN",type="string",JSONPath=".status.progress.applicationsSummary",description="Applications scaled down, of those the upgrade scales down"
// +kubebuilder:printcolumn:name="NODES UPGRADED",type="string",JSONPath=".status.progress.nodesSummary",description="Node pods running newImage and ready, of those to replace"
// +kubebuilder:printcolumn:name="UNSTOPPABLE",type="integer",JSONPath=".status.plan.summary.unstoppablePods",description="Pods using StorageOS volumes that the upgrade cannot stop"
// +kubebuilder:printcolumn:name="COMPLETED",type="boolean",JSONPath=".status.completed"
// +kubebuilder:printcolumn:name="PROGRESS",type="string",JSONPath=".status.progress.message",priority=1
// +kubebuilder:printcolumn:name="STARTED",type="date",JSONPath=".status.progress.startTime",priority=1
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type StorageOSUpgrade struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   StorageOSUpgradeSpec   `json:"spec"`
	Status StorageOSUpgradeStatus `json:"status,omitempty"`
}

// StorageOSUpgradeList is a list of StorageOSUpgrades.
//
// +kubebuilder:object:root=true
type StorageOSUpgradeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StorageOSUpgrade `json:"items"`
}
