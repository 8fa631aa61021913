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

// StorageOSUpgradeStatus is the progress of an upgrade.
type StorageOSUpgradeStatus struct {
	// Phase is the step the upgrade has reached.
	// +optional
	Phase UpgradePhase `json:"phase,omitempty"`

	// Completed is true once the cluster runs newImage and every application is scaled back.
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
// +kubebuilder:printcolumn:name="COMPLETED",type="boolean",JSONPath=".status.completed"
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
