package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NFSServerSpec is an NFS-Ganesha server exporting one StorageOS volume, which is how StorageOS serves
// ReadWriteMany claims. The field names are the original operator's, so its users' YAML applies unchanged.
// +kubebuilder:validation:XValidation:rule=`(has(self.persistentVolumeClaim) && has(self.persistentVolumeClaim.claimName) ? self.persistentVolumeClaim.claimName : "") == (has(oldSelf.persistentVolumeClaim) && has(oldSelf.persistentVolumeClaim.claimName) ? oldSelf.persistentVolumeClaim.claimName : "")`,message="persistentVolumeClaim.claimName cannot change: the server exports one volume for its whole life; create another NFSServer",fieldPath=".persistentVolumeClaim"
type NFSServerSpec struct {
	// NFSContainer is the NFS server image. When empty: the StorageOSCluster's images.nfsContainer, then the
	// operator's RELATED_IMAGE_NFS, then storageos/nfs:1.0.0.
	// +optional
	NFSContainer ImageReference `json:"nfsContainer,omitempty"`

	// StorageClassName is the class of the volume the server exports, when the operator creates its claim.
	// When empty, the StorageOSCluster's storageClassName is written here on the first reconcile: a claim's class
	// cannot change, so the server keeps the class it was created with.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="storageClassName cannot change: a claim's class is fixed when it is created"
	// +optional
	StorageClassName string `json:"storageClassName,omitempty"`

	// Tolerations are added to the NFS server pod.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.operator) || t.operator != 'Exists' || !has(t.value) || t.value == '')",message="tolerations: a toleration with operator Exists must not have a value"
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.operator) || t.operator in ['Exists', 'Equal'])",message="tolerations: operator must be Exists or Equal"
	// +kubebuilder:validation:XValidation:rule="self.all(t, !has(t.effect) || t.effect in ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'])",message="tolerations: effect must be NoSchedule, PreferNoSchedule or NoExecute"
	// +kubebuilder:validation:XValidation:rule="self.all(t, has(t.key) && t.key != '' || has(t.operator) && t.operator == 'Exists')",message="tolerations: a toleration without a key must have operator Exists"
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Resources: requests.storage is the size of the volume the server exports when the operator creates its
	// claim (default 1Gi). It can grow, if the class allows volume expansion, but not shrink: the claim refuses
	// that, and the NFSServer's Ready condition says so.
	// +optional
	Resources NFSServerResources `json:"resources,omitempty"`

	// Annotations are added to the NFS server pod.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Export configures the NFS export; the default exports the volume read-write without squashing.
	// +optional
	Export ExportSpec `json:"export,omitempty"`

	// PersistentVolumeReclaimPolicy is what happens to the exported volume when the NFSServer is deleted, for a
	// claim the operator created: Delete (the default) deletes the claim with the server; Retain keeps the claim
	// and sets Retain on its PersistentVolume, so the data survives the claim too. A claim named in
	// persistentVolumeClaim is never deleted nor its volume changed.
	// +kubebuilder:validation:Enum=Delete;Retain
	// +optional
	PersistentVolumeReclaimPolicy corev1.PersistentVolumeReclaimPolicy `json:"persistentVolumeReclaimPolicy,omitempty"`

	// MountOptions are set on the PersistentVolume of the claim the operator created, and so passed to the
	// StorageOS CSI driver when the server mounts it. They are not validated: a wrong option fails the mount,
	// which the server pod's events show.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	MountOptions []string `json:"mountOptions,omitempty"`

	// PersistentVolumeClaim names an existing claim in the NFSServer's namespace to export instead of creating
	// one (named after the NFSServer). It is never deleted by the operator, and cannot change.
	// +optional
	PersistentVolumeClaim corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
}

// NFSServerResources has the shape of a container's resource requirements, as the original's field had; only
// requests.storage has an effect (the size of the exported volume).
type NFSServerResources struct {
	// Limits are accepted for compatibility and have no effect.
	// +kubebuilder:validation:MaxProperties=8
	// +optional
	Limits map[corev1.ResourceName]Quantity `json:"limits,omitempty"`
	// Requests: storage is the size of the exported volume.
	// +kubebuilder:validation:MaxProperties=8
	// +optional
	Requests map[corev1.ResourceName]Quantity `json:"requests,omitempty"`
}

// Quantity is a positive resource quantity such as 1Gi: the pattern is Kubernetes' quantity syntax without the
// sign, with a non-zero digit (CEL's quantity() would cost more than the schema's budget on an int-or-string).
// +kubebuilder:validation:XIntOrString
// +kubebuilder:validation:Type=""
// +kubebuilder:validation:XValidation:rule="type(self) != int || self > 0",message="must be greater than zero"
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^\+?([0-9]*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)(([KMGTPE]i)|[numkMGTPE]|([eE]\+?[0-9]+))?$`
type Quantity struct {
	resource.Quantity `json:",inline"`
}

// ExportSpec is the NFS export.
type ExportSpec struct {
	// Name of the export. When set, the export uses its own server and persistentVolumeClaim settings instead of
	// the defaults, as in the original operator.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`

	// Server is how clients may use the export.
	// +optional
	Server ServerSpec `json:"server,omitempty"`

	// PersistentVolumeClaim is the claim exported, when export.name is set; its name is the export's path
	// (/export/<claimName>, pseudo path /<claimName>).
	// +optional
	PersistentVolumeClaim corev1.PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
}

// ServerSpec is the access the export gives its clients.
type ServerSpec struct {
	// AccessMode is ReadWrite, ReadOnly or None (any case, as the original accepted); default ReadWrite.
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() in ['readwrite', 'readonly', 'none']",message="export.server.accessMode must be ReadWrite, ReadOnly or None"
	// +optional
	AccessMode string `json:"accessMode,omitempty"`

	// Squash maps remote users: none, root (root to anonymous), rootid (root's uid and gid to anonymous) or all
	// (every user to anonymous); any case; default none.
	// +kubebuilder:validation:XValidation:rule="self.lowerAscii() in ['none', 'root', 'rootid', 'all']",message="export.server.squash must be none, root, rootid or all"
	// +optional
	Squash string `json:"squash,omitempty"`
}

// NFSServer phases, as the original reported them.
const (
	NFSServerPhasePending = "Pending"
	NFSServerPhaseRunning = "Running"
	NFSServerPhaseFailed  = "Failed"
	NFSServerPhaseUnknown = "Unknown"
)

// NFSServerStatus is the observed state of an NFS server.
type NFSServerStatus struct {
	// Phase summarises the conditions as the original operator did: Pending until the server pod is ready,
	// Running while it serves, Failed when it cannot start without someone's help, Unknown before the first
	// reconcile.
	// +optional
	Phase string `json:"phase,omitempty"`

	// RemoteTarget is the address clients mount: the server Service's cluster IP and the NFS port, e.g.
	// 10.96.0.12:2049.
	// +optional
	RemoteTarget string `json:"remoteTarget,omitempty"`

	// AccessModes is the access the export gives: RW, RO or None.
	// +optional
	AccessModes string `json:"accessModes,omitempty"`

	// Conditions are the latest observations of the server's state.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the status was last reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// The server's children are named after it, and the tightest of them sets the limits: its StatefulSet's pods get
// a controller-revision-hash label "<name>-<hash>", the hash (the decimal digits of a 32-bit FNV hash, encoded one
// character each) up to 10 characters, and label values are at most 63, so the name is at most 52. Kubernetes
// accepts the StatefulSet with a longer name; only its pods then fail, far from the cause. The pods' own label
// statefulset.kubernetes.io/pod-name, <name>-0, and the <name>-metrics Service allow more. The Services, <name>
// and <name>-metrics, must be DNS-1035 labels: a lowercase letter first, no dots. StorageOS's own servers,
// pvc-<uid> (40 characters), fit. The name cannot change, so it is checked on create only: a server stored
// before the rules existed stays deletable.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || size(self.metadata.name) <= 52",optionalOldSelf=true,fieldPath=".metadata",message="metadata.name must be at most 52 characters: the NFS server's StatefulSet pods carry it, with a 10-character revision hash, in their controller-revision-hash label"
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",optionalOldSelf=true,fieldPath=".metadata",message="metadata.name must start with a lowercase letter and hold only lowercase letters, digits and '-' (a DNS-1035 label): the NFS server's Services are named after it"

// NFSServer serves a StorageOS volume over NFS, for ReadWriteMany claims: StorageOS creates one (pvc-<uid>) for
// every such claim, and the cluster-manager runs an NFS-Ganesha StatefulSet exporting the server's own
// ReadWriteOnce volume. Its name is at most 52 characters, starts with a letter and has no dots: its
// StatefulSet's pods carry it in a label, and its Services are named after it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=nfsserver,categories=storageos
// +kubebuilder:printcolumn:name="status",type="string",JSONPath=".status.phase",description="Status of the NFS server."
// +kubebuilder:printcolumn:name="capacity",type="string",JSONPath=".spec.resources.requests.storage",description="Capacity of the NFS server."
// +kubebuilder:printcolumn:name="target",type="string",JSONPath=".status.remoteTarget",description="Remote target address of the NFS server."
// +kubebuilder:printcolumn:name="access modes",type="string",JSONPath=".status.accessModes",description="Access modes supported by the NFS server."
// +kubebuilder:printcolumn:name="storageclass",type="string",JSONPath=".spec.storageClassName",description="StorageClass used for creating the NFS volume."
// +kubebuilder:printcolumn:name="age",type="date",JSONPath=".metadata.creationTimestamp"
type NFSServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec NFSServerSpec `json:"spec,omitempty"`
	// +optional
	Status NFSServerStatus `json:"status,omitempty"`
}

// NFSServerList is a list of NFSServers.
//
// +kubebuilder:object:root=true
type NFSServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NFSServer `json:"items"`
}
