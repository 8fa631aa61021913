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

	// PhaseStartTime is when the current phase began; a phase that lasts longer than the step timeout fails.
	// +optional
	PhaseStartTime *metav1.Time `json:"phaseStartTime,omitempty"`

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
