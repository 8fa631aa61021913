package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StorageOSClusterSpec is the desired StorageOS deployment. Every field and default is the one documented
// for the original StorageOS cluster-operator.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.disableTCMU) && self.disableTCMU && has(self.forceTCMU) && self.forceTCMU)",message="disableTCMU and forceTCMU cannot both be true",fieldPath=".forceTCMU"
// +kubebuilder:validation:XValidation:rule="has(self.tlsEtcdSecretRefName) == has(self.tlsEtcdSecretRefNamespace)",message="tlsEtcdSecretRefName and tlsEtcdSecretRefNamespace must be set together",fieldPath=".tlsEtcdSecretRefName"
// +kubebuilder:validation:XValidation:rule="!has(self.tlsEtcdSecretRefName) || (has(self.kvBackend) && has(self.kvBackend.backend) && self.kvBackend.backend == 'etcd')",message="tlsEtcdSecretRefName requires kvBackend.backend: etcd (the TLS secret is for an external etcd)",fieldPath=".tlsEtcdSecretRefName"
type StorageOSClusterSpec struct {
	// Join is the original operator's join token: the addresses of the StorageOS v1 nodes that form a cluster.
	// StorageOS v2 nodes find each other through the key-value store, so it has no effect on a v2 cluster; it is
	// accepted so that manifests (and clusters) of the original operator keep working, and the cluster's
	// FieldsIgnored condition says that it is ignored.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Join string `json:"join,omitempty"`

	// SecretRefName is the name of the Secret holding the StorageOS API credentials
	// (apiUsername, apiPassword) and, optionally, CSI credentials and the ingress TLS certificate.
	// +required
	SecretRefName ObjectName `json:"secretRefName"`

	// SecretRefNamespace is the namespace of the Secret named by secretRefName.
	// +required
	SecretRefNamespace NamespaceName `json:"secretRefNamespace"`

	// Namespace is where the StorageOS cluster's resources are created. It cannot be changed once set:
	// moving a running storage cluster between namespaces would take every volume offline.
	// +kubebuilder:default=storageos
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="namespace is immutable: delete and recreate the StorageOSCluster to move it"
	// +optional
	Namespace NamespaceName `json:"namespace,omitempty"`

	// Images are the container images of the cluster's components.
	// +kubebuilder:default={}
	// +optional
	Images ContainerImages `json:"images,omitempty"`

	// CSI configures the Container Storage Interface driver.
	// +kubebuilder:default={}
	// +optional
	CSI StorageOSClusterCSI `json:"csi,omitempty"`

	// Service is the Service in front of the StorageOS API.
	// +kubebuilder:default={}
	// +optional
	Service StorageOSClusterService `json:"service,omitempty"`

	// Ingress exposes the StorageOS API outside the cluster.
	// +kubebuilder:default={}
	// +optional
	Ingress StorageOSClusterIngress `json:"ingress,omitempty"`

	// SharedDir is the host path shared with the kubelet when it runs as a container. It is mounted read-write,
	// with bidirectional propagation, into the privileged node container, so it is confined to a directory below
	// /var/lib/kubelet/plugins/ (where the kubelet's plugins share files with it), /var/lib/storageos/ (StorageOS's
	// own state) or /mnt/: any host path would hand whoever edits the cluster the node's /, /etc or /dev.
	// +kubebuilder:default="/var/lib/kubelet/plugins/kubernetes.io~storageos"
	// +kubebuilder:validation:XValidation:rule=`self.matches('^/(var/lib/kubelet/plugins|var/lib/storageos|mnt)(/[^/]+)+$')`,message="sharedDir must be a directory below /var/lib/kubelet/plugins/, /var/lib/storageos/ or /mnt/, without a trailing or doubled /, e.g. /var/lib/kubelet/plugins/kubernetes.io~storageos: it is mounted read-write into the privileged node container"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('/[.][.]?(/|$)')`,message="sharedDir must not contain . or .. path elements: they could lead out of the allowed directories"
	// +optional
	SharedDir AbsolutePath `json:"sharedDir,omitempty"`

	// KVBackend selects the key-value store: the embedded one, or an external etcd.
	// +kubebuilder:default={}
	// +optional
	KVBackend StorageOSClusterKVBackend `json:"kvBackend,omitempty"`

	// TLSEtcdSecretRefName is the name of the Secret holding the TLS certificates of the external etcd.
	// +optional
	TLSEtcdSecretRefName ObjectName `json:"tlsEtcdSecretRefName,omitempty"`

	// TLSEtcdSecretRefNamespace is the namespace of the Secret named by tlsEtcdSecretRefName.
	// +optional
	TLSEtcdSecretRefNamespace NamespaceName `json:"tlsEtcdSecretRefNamespace,omitempty"`

	// Pause stops the operator from changing the cluster's resources, for maintenance and upgrades.
	// +optional
	Pause bool `json:"pause,omitempty"`

	// Debug enables debug logging on every StorageOS node.
	// +optional
	Debug bool `json:"debug,omitempty"`

	// DisableFencing disables fencing of pods on failed nodes.
	// +optional
	DisableFencing bool `json:"disableFencing,omitempty"`

	// DisableTelemetry disables telemetry reports.
	// +optional
	DisableTelemetry bool `json:"disableTelemetry,omitempty"`

	// DisableTCMU disables TCMU to allow co-existence with other storage systems, at a cost in performance.
	// +optional
	DisableTCMU bool `json:"disableTCMU,omitempty"`

	// ForceTCMU makes StorageOS abort startup when TCMU cannot be enabled.
	// +optional
	ForceTCMU bool `json:"forceTCMU,omitempty"`

	// DisableScheduler disables the StorageOS scheduler extender, which places pods near their data.
	// +optional
	DisableScheduler bool `json:"disableScheduler,omitempty"`

	// NodeSelectorTerms select the nodes StorageOS runs on.
	// +optional
	NodeSelectorTerms []corev1.NodeSelectorTerm `json:"nodeSelectorTerms,omitempty"`

	// Tolerations are added to the StorageOS pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// Resources are the resource requirements of the StorageOS node container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// K8sDistro names the Kubernetes distribution in use, for example rancher, eks or openshift.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	K8sDistro string `json:"k8sDistro,omitempty"`

	// StorageClassName is the name of the StorageClass created for StorageOS volumes.
	// +kubebuilder:default=fast
	// +optional
	StorageClassName ObjectName `json:"storageClassName,omitempty"`
}

// ContainerImages are the images of a StorageOS cluster's components. None has a schema default: an image left
// out is taken, when the cluster-manager deploys it, from the operator's RELATED_IMAGE_* environment variable
// (how OLM pins images for disconnected installs), else from the built-in default for the cluster's Kubernetes
// version. status.images shows the images in use.
type ContainerImages struct {
	// NodeContainer is the StorageOS node image (RELATED_IMAGE_STORAGEOS_NODE; built in: storageos/node:v2.1.0).
	// +optional
	NodeContainer ImageReference `json:"nodeContainer,omitempty"`

	// InitContainer is the StorageOS init image (RELATED_IMAGE_STORAGEOS_INIT; built in: storageos/init:1.0.0).
	// +optional
	InitContainer ImageReference `json:"initContainer,omitempty"`

	// CSINodeDriverRegistrarContainer is the CSI node driver registrar image.
	// +optional
	CSINodeDriverRegistrarContainer ImageReference `json:"csiNodeDriverRegistrarContainer,omitempty"`

	// CSIClusterDriverRegistrarContainer is the CSI cluster driver registrar image. Only Kubernetes versions
	// without the CSIDriver API (before 1.14) needed it; it is accepted for compatibility and not deployed.
	// +optional
	CSIClusterDriverRegistrarContainer ImageReference `json:"csiClusterDriverRegistrarContainer,omitempty"`

	// CSIExternalProvisionerContainer is the CSI external provisioner image.
	// +optional
	CSIExternalProvisionerContainer ImageReference `json:"csiExternalProvisionerContainer,omitempty"`

	// CSIExternalAttacherContainer is the CSI external attacher image.
	// +optional
	CSIExternalAttacherContainer ImageReference `json:"csiExternalAttacherContainer,omitempty"`

	// CSIExternalResizerContainer is the CSI external resizer image.
	// +optional
	CSIExternalResizerContainer ImageReference `json:"csiExternalResizerContainer,omitempty"`

	// CSILivenessProbeContainer is the CSI liveness probe image.
	// +optional
	CSILivenessProbeContainer ImageReference `json:"csiLivenessProbeContainer,omitempty"`

	// KubeSchedulerContainer is the kube-scheduler image that runs the StorageOS scheduler extender.
	// +optional
	KubeSchedulerContainer ImageReference `json:"kubeSchedulerContainer,omitempty"`

	// HyperkubeContainer was the original operator's hyperkube image, which it never deployed. It is accepted for
	// compatibility and has no effect (the FieldsIgnored condition says so).
	// +optional
	HyperkubeContainer ImageReference `json:"hyperkubeContainer,omitempty"`

	// NFSContainer is the NFS server image of the cluster's NFSServers, unless an NFSServer names its own
	// (RELATED_IMAGE_NFS; built in: storageos/nfs:1.0.0).
	// +optional
	NFSContainer ImageReference `json:"nfsContainer,omitempty"`
}

// CSIDeploymentStrategy is how the CSI helpers (provisioner, attacher, resizer) are deployed.
// +kubebuilder:validation:Enum=statefulset;deployment
type CSIDeploymentStrategy string

// The ways to deploy the CSI helpers.
const (
	CSIDeploymentStrategyStatefulSet CSIDeploymentStrategy = "statefulset"
	CSIDeploymentStrategyDeployment  CSIDeploymentStrategy = "deployment"
)

// StorageOSClusterCSI configures the CSI driver. The credential flags need csi.enable.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.enableProvisionCreds) && self.enableProvisionCreds) || (has(self.enable) && self.enable)",message="csi.enableProvisionCreds requires csi.enable: true",fieldPath=".enableProvisionCreds"
// +kubebuilder:validation:XValidation:rule="!(has(self.enableControllerPublishCreds) && self.enableControllerPublishCreds) || (has(self.enable) && self.enable)",message="csi.enableControllerPublishCreds requires csi.enable: true",fieldPath=".enableControllerPublishCreds"
// +kubebuilder:validation:XValidation:rule="!(has(self.enableNodePublishCreds) && self.enableNodePublishCreds) || (has(self.enable) && self.enable)",message="csi.enableNodePublishCreds requires csi.enable: true",fieldPath=".enableNodePublishCreds"
// +kubebuilder:validation:XValidation:rule="!(has(self.enableControllerExpandCreds) && self.enableControllerExpandCreds) || (has(self.enable) && self.enable)",message="csi.enableControllerExpandCreds requires csi.enable: true",fieldPath=".enableControllerExpandCreds"
type StorageOSClusterCSI struct {
	// Enable sets up StorageOS as a CSI driver.
	// +optional
	Enable bool `json:"enable,omitempty"`

	// EnableProvisionCreds passes the csiProvisionUsername/csiProvisionPassword credentials on provisioning.
	// +optional
	EnableProvisionCreds bool `json:"enableProvisionCreds,omitempty"`

	// EnableControllerPublishCreds passes the csiControllerPublish credentials on attach.
	// +optional
	EnableControllerPublishCreds bool `json:"enableControllerPublishCreds,omitempty"`

	// EnableNodePublishCreds passes the csiNodePublish credentials on mount.
	// +optional
	EnableNodePublishCreds bool `json:"enableNodePublishCreds,omitempty"`

	// EnableControllerExpandCreds passes the csiControllerExpand credentials on resize.
	// +optional
	EnableControllerExpandCreds bool `json:"enableControllerExpandCreds,omitempty"`

	// DeploymentStrategy deploys the CSI helpers as a StatefulSet or a Deployment.
	// +kubebuilder:default=statefulset
	// +optional
	DeploymentStrategy CSIDeploymentStrategy `json:"deploymentStrategy,omitempty"`

	// Version is the CSI spec version the node serves, passed to it as CSI_VERSION. StorageOS v2 speaks v1.
	// +kubebuilder:validation:Enum=v0;v1
	// +optional
	Version string `json:"version,omitempty"`

	// Endpoint is the CSI socket the node listens on, as the node sees it (CSI_ENDPOINT). Default:
	// unix://<pluginDir>/csi.sock. An absolute path, as the original's example wrote it, gets the unix:// scheme.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.startsWith('unix:///') || self.startsWith('/')",message="csi.endpoint must be a unix socket URL such as unix:///var/lib/kubelet/plugins_registry/storageos/csi.sock, or an absolute path"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// RegistrarSocketDir is the host directory mounted into the driver registrar at /var/lib/csi/sockets/.
	// Default: /var/lib/kubelet/device-plugins/.
	// +optional
	RegistrarSocketDir AbsolutePath `json:"registrarSocketDir,omitempty"`

	// KubeletDir is the kubelet's root directory on the hosts, mounted into the node container with bidirectional
	// propagation so that volumes reach the pods. Default: /var/lib/kubelet; k3s, RKE or microk8s keep it
	// elsewhere.
	// +optional
	KubeletDir AbsolutePath `json:"kubeletDir,omitempty"`

	// PluginDir is the host directory that holds the CSI socket. Default: <registrationDir>/storageos/.
	// +optional
	PluginDir AbsolutePath `json:"pluginDir,omitempty"`

	// DeviceDir is the host's device directory. Default: /dev.
	// +optional
	DeviceDir AbsolutePath `json:"deviceDir,omitempty"`

	// RegistrationDir is the kubelet's plugin registration directory. Default: /var/lib/kubelet/plugins_registry.
	// +optional
	RegistrationDir AbsolutePath `json:"registrationDir,omitempty"`

	// KubeletRegistrationPath is the CSI socket's path on the host, as the driver registrar tells the kubelet.
	// Default: <pluginDir>/csi.sock.
	// +optional
	KubeletRegistrationPath AbsolutePath `json:"kubeletRegistrationPath,omitempty"`

	// DriverRegistrationMode (spelt as the original spelt it) chose between the node and the cluster driver
	// registrar on Kubernetes before 1.14. The node registrar is the only one since, so it has no effect (the
	// FieldsIgnored condition says so).
	// +kubebuilder:validation:Enum=node-register;cluster-register
	// +optional
	DriverRegistrationMode string `json:"driverRegisterationMode,omitempty"`

	// DriverRequiresAttachment configured the cluster driver registrar on Kubernetes before 1.14. The CSIDriver
	// object says whether StorageOS needs attaching (it does), so it has no effect (the FieldsIgnored condition
	// says so).
	// +kubebuilder:validation:Enum="true";"false"
	// +optional
	DriverRequiresAttachment string `json:"driverRequiresAttachment,omitempty"`

	// LegacyDriverRequiresAttachment is driverRequiresAttachment under the capitalised key of the original
	// operator's example file, which the original accepted. Same meaning, same lack of effect.
	// +kubebuilder:validation:Enum="true";"false"
	// +optional
	LegacyDriverRequiresAttachment string `json:"DriverRequiresAttachment,omitempty"`
}

// StorageOSClusterService is the Service in front of the StorageOS API.
type StorageOSClusterService struct {
	// Name of the Service.
	// +kubebuilder:default=storageos
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Name string `json:"name,omitempty"`

	// Type of the Service.
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	Type corev1.ServiceType `json:"type,omitempty"`

	// ExternalPort is the port the Service exposes.
	// +kubebuilder:default=5705
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	ExternalPort int32 `json:"externalPort,omitempty"`

	// InternalPort is the StorageOS API port on the node pods.
	// +kubebuilder:default=5705
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	InternalPort int32 `json:"internalPort,omitempty"`

	// Annotations are added to the Service.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// StorageOSClusterIngress exposes the StorageOS API through an Ingress.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.tls) && self.tls) || (has(self.enable) && self.enable)",message="ingress.tls requires ingress.enable: true",fieldPath=".tls"
type StorageOSClusterIngress struct {
	// Enable creates the Ingress.
	// +optional
	Enable bool `json:"enable,omitempty"`

	// Hostname the Ingress serves.
	// +kubebuilder:default="storageos.local"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Hostname string `json:"hostname,omitempty"`

	// TLS serves the Ingress over TLS, with tls.crt and tls.key from the secret named by secretRefName.
	// +optional
	TLS bool `json:"tls,omitempty"`

	// Annotations are added to the Ingress.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// KVBackendType names a key-value store StorageOS can use.
// +kubebuilder:validation:Enum=embedded;etcd
type KVBackendType string

// The key-value stores: the one StorageOS embeds, or an external etcd.
const (
	KVBackendEmbedded KVBackendType = "embedded"
	KVBackendEtcd     KVBackendType = "etcd"
)

// StorageOSClusterKVBackend selects the key-value store.
//
// +kubebuilder:validation:XValidation:rule="!has(self.backend) || self.backend != 'etcd' || (has(self.address) && size(self.address) > 0)",message="kvBackend.address is required when kvBackend.backend is etcd",fieldPath=".address"
type StorageOSClusterKVBackend struct {
	// Address is a comma-separated list of host:port addresses of the external key-value store,
	// for example 1.2.3.4:2379,2.3.4.5:2379. An http:// or https:// scheme may prefix each address.
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule=`self.matches('^((https?://)?([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|[[][0-9a-fA-F:.]+[]]):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))(,(https?://)?([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?([.][a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*|[[][0-9a-fA-F:.]+[]]):([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))*$')`,message="kvBackend.address must be a comma-separated list of host:port addresses with ports 1-65535 and no spaces, e.g. 1.2.3.4:2379,2.3.4.5:2379"
	// +optional
	Address string `json:"address,omitempty"`

	// Backend is the key-value store: embedded, or etcd for an external etcd at address.
	// +kubebuilder:default=embedded
	// +optional
	Backend KVBackendType `json:"backend,omitempty"`
}

// ClusterPhase is the seed's summary of a cluster's state; conditions carry the detail.
type ClusterPhase string

// The phases of a StorageOSCluster.
const (
	ClusterPhaseCreating    ClusterPhase = "Creating"
	ClusterPhaseRunning     ClusterPhase = "Running"
	ClusterPhasePending     ClusterPhase = "Pending"
	ClusterPhaseTerminating ClusterPhase = "Terminating"
)

// NodeHealthState is a StorageOS node's health as the StorageOS API reports it.
type NodeHealthState string

// The health states the StorageOS API reports for a node.
const (
	NodeHealthOnline  NodeHealthState = "online"
	NodeHealthOffline NodeHealthState = "offline"
	NodeHealthUnknown NodeHealthState = "unknown"
)

// NodeHealth is the health of one StorageOS node: the node's overall health and, as the original operator
// reported them, its components' (each "alive" or another state the StorageOS API reports, e.g. "unknown").
type NodeHealth struct {
	// Health is online, offline or unknown.
	// +optional
	Health NodeHealthState `json:"health,omitempty"`
	// DirectfsInitiator is the health of the data plane's directfs initiator.
	// +optional
	DirectfsInitiator string `json:"directfsInitiator,omitempty"`
	// Director is the health of the data plane's director.
	// +optional
	Director string `json:"director,omitempty"`
	// KV is the health of the key-value store.
	// +optional
	KV string `json:"kv,omitempty"`
	// KVWrite is whether the key-value store accepts writes.
	// +optional
	KVWrite string `json:"kvWrite,omitempty"`
	// Nats is the health of the messaging bus.
	// +optional
	Nats string `json:"nats,omitempty"`
	// Presentation is the health of the volume presentation layer.
	// +optional
	Presentation string `json:"presentation,omitempty"`
	// Rdb is the health of the block store.
	// +optional
	Rdb string `json:"rdb,omitempty"`
}

// MembersStatus lists the StorageOS nodes by readiness.
type MembersStatus struct {
	// Ready are the nodes whose StorageOS pod is ready.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Ready []string `json:"ready,omitempty"`

	// Unready are the nodes whose StorageOS pod is not ready.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Unready []string `json:"unready,omitempty"`
}

// NodeListMax is how many nodes the status' node lists name at most. Up to that many StorageOS nodes, the lists
// nodes, members and nodeHealthStatus are complete, as the original operator wrote them. Beyond it, a status naming
// every node would grow with the cluster (about 1.6 MB at 5,000 nodes, past what etcd stores in one object) and
// each change would rewrite all of it: nodes and members.ready are left out, members.unready and
// nodeHealthStatus name only nodes that are not well (at most NodeListMax), and nodeCounts counts them all.
const NodeListMax = 100

// NodeCounts counts the StorageOS nodes, whatever the cluster's size.
type NodeCounts struct {
	// Nodes is how many nodes run a StorageOS node pod.
	Nodes int32 `json:"nodes"`
	// Ready is how many of those pods are ready.
	Ready int32 `json:"ready"`
	// Unready is how many StorageOS node pods are not ready.
	Unready int32 `json:"unready"`
	// Online, Offline and Unknown count the StorageOS nodes by the health the StorageOS API reported last (an
	// unrecognised health counts as unknown).
	Online int32 `json:"online"`
	// Offline is how many StorageOS nodes the API reported offline.
	Offline int32 `json:"offline"`
	// Unknown is how many StorageOS nodes the API reported neither online nor offline.
	Unknown int32 `json:"unknown"`
	// Unhealthy is how many StorageOS nodes are not online or have a component that is not alive.
	Unhealthy int32 `json:"unhealthy"`
}

// StorageOSClusterStatus is the observed state of a StorageOS cluster.
type StorageOSClusterStatus struct {
	// Phase is Creating, Running, Pending or Terminating, derived from the conditions.
	// +optional
	Phase ClusterPhase `json:"phase,omitempty"`

	// Ready is the number of ready StorageOS node pods out of the desired number, e.g. "3/3".
	// +optional
	Ready string `json:"ready,omitempty"`

	// Nodes are the names of the nodes StorageOS runs on; left out on a cluster of more than 100 (NodeListMax)
	// such nodes, where nodeCounts.nodes counts them.
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Nodes []string `json:"nodes,omitempty"`

	// NodeHealthStatus is the health of each StorageOS node, by node name. On a cluster of more than 100
	// (NodeListMax) StorageOS nodes, only nodes that are not online or have a component not alive, at most 100;
	// nodeCounts counts them all.
	// +kubebuilder:validation:MaxProperties=100
	// +optional
	NodeHealthStatus map[string]NodeHealth `json:"nodeHealthStatus,omitempty"`

	// Members are the StorageOS nodes by readiness. On a cluster of more than 100 (NodeListMax) StorageOS node
	// pods, ready is left out and unready names at most 100; nodeCounts counts them all.
	// +optional
	Members MembersStatus `json:"members,omitempty"`

	// NodeCounts counts the StorageOS nodes by readiness and health, whatever the cluster's size.
	// +optional
	NodeCounts *NodeCounts `json:"nodeCounts,omitempty"`

	// Images are the images the cluster's components are deployed with, after RELATED_IMAGE_* and built-in
	// defaults have filled in what the spec leaves out.
	// +optional
	Images ContainerImages `json:"images,omitempty"`

	// Conditions are the latest observations of the cluster's state.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the status was last fully reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// Every object the cluster-manager creates carries the cluster's name in its app.kubernetes.io/instance and
// storageos_cr labels (the NFS servers' objects too), and label values are at most 63 characters: a longer name
// would make every child fail. The name cannot change, so it is checked on create only (oldSelf is absent then):
// a cluster stored before the rule existed stays updatable and deletable. Errors name .metadata, as CRD schemas
// cannot point a rule at metadata.name; the message does.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || size(self.metadata.name) <= 63",optionalOldSelf=true,fieldPath=".metadata",message="metadata.name must be at most 63 characters: every object of the cluster carries it in its app.kubernetes.io/instance label"

// StorageOSCluster is a StorageOS storage cluster deployed by the cluster-manager. Its name is at most 63
// characters: every object the cluster creates carries it in a label.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stos,categories=storageos
// +kubebuilder:printcolumn:name="READY",type="string",JSONPath=".status.ready"
// +kubebuilder:printcolumn:name="STATUS",type="string",JSONPath=".status.phase"
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type StorageOSCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   StorageOSClusterSpec   `json:"spec"`
	Status StorageOSClusterStatus `json:"status,omitempty"`
}

// StorageOSClusterList is a list of StorageOSClusters.
//
// +kubebuilder:object:root=true
type StorageOSClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StorageOSCluster `json:"items"`
}
