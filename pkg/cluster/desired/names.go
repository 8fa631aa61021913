// Package desired builds, from a StorageOSCluster, every object of a StorageOS deployment. The functions are
// pure: spec, Kubernetes version, resolved images and source secrets in; typed objects out. The names are the
// original operator's, so existing tooling and runbooks keep working.
package desired

// Object names.
const (
	DaemonSetName = "storageos-daemonset"
	// NodeContainerName is the node DaemonSet's StorageOS container, whose image an upgrade replaces.
	NodeContainerName      = "storageos"
	DaemonSetSA            = "storageos-daemonset-sa"
	CSIStatefulSetName     = "storageos-statefulset"
	CSIStatefulSetSA       = "storageos-statefulset-sa"
	CSIDeploymentName      = "storageos-csi-helper"
	CSIDeploymentSA        = "storageos-csi-helper-sa"
	SchedulerName          = "storageos-scheduler"
	SchedulerSA            = "storageos-scheduler-sa"
	SchedulerConfigMapName = "storageos-scheduler-config"
	NodeConfigMapName      = "storageos-node-config"
	InitSecretName         = "init-secret"
	IngressTLSSecretName   = "tls-secret"
	EtcdTLSSecretName      = "storageos-tls-etcd"
	IngressName            = "storageos-ingress"
	CSIDriverName          = "csi.storageos.com"

	// CSIProvisioner is the provisioner of StorageOS v2 volumes; LegacyProvisioner the in-tree one used when
	// CSI is off.
	CSIProvisioner    = "csi.storageos.com"
	LegacyProvisioner = "kubernetes.io/storageos"
)

// Credential secrets: the secret each csi.enable*Creds flag creates, and the keys of the cluster's API secret
// its username and password come from.
type CredentialSecret struct {
	Name        string
	UsernameKey string
	PasswordKey string
	// Parameter is the StorageClass parameter prefix, e.g. csi.storage.k8s.io/provisioner-secret.
	Parameter string
}

var (
	ProvisionCreds = CredentialSecret{"csi-provisioner-secret", "csiProvisionUsername", "csiProvisionPassword",
		"csi.storage.k8s.io/provisioner-secret"}
	ControllerPublishCreds = CredentialSecret{"csi-controller-publish-secret", "csiControllerPublishUsername",
		"csiControllerPublishPassword", "csi.storage.k8s.io/controller-publish-secret"}
	NodePublishCreds = CredentialSecret{"csi-node-publish-secret", "csiNodePublishUsername", "csiNodePublishPassword",
		"csi.storage.k8s.io/node-publish-secret"}
	ControllerExpandCreds = CredentialSecret{"csi-controller-expand-secret", "csiControllerExpandUsername",
		"csiControllerExpandPassword", "csi.storage.k8s.io/controller-expand-secret"}
)

// Paths on the nodes and in the containers.
const (
	csiPluginDir       = "/var/lib/kubelet/plugins_registry/storageos/"
	csiSocket          = "/var/lib/kubelet/plugins_registry/storageos/csi.sock"
	csiAddress         = "/csi/csi.sock"
	etcdTLSMountPath   = "/run/storageos/pki"
	schedulerConfigDir = "/etc/kubernetes/storageos-scheduler"
)

// Labels every object carries. The original's app=storageos stays for compatibility; the rest are the
// recommended labels, and cluster-namespace maps cluster-scoped objects back to their StorageOSCluster.
const (
	LabelApp              = "app"
	LabelName             = "app.kubernetes.io/name"
	LabelInstance         = "app.kubernetes.io/instance"
	LabelPartOf           = "app.kubernetes.io/part-of"
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	LabelComponent        = "app.kubernetes.io/component"
	LabelClusterNamespace = "storageos.com/cluster-namespace"

	ManagedBy = "storageos-cluster-manager"
)
