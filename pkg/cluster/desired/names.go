// Package desired builds, from a StorageOSCluster, every object of a StorageOS deployment. The functions are
// pure: spec, Kubernetes version, resolved images and source secrets in; typed objects out. The names are the
// original operator's, so existing tooling and runbooks keep working.
package desired

// Object names.
const (
	DaemonSetSA            = "storageos-daemonset-sa"
	CSIStatefulSetName     = "storageos-statefulset"
	CSIStatefulSetSA       = "storageos-statefulset-sa"
	CSIDeploymentName      = "storageos-csi-helper"
	CSIDeploymentSA        = "storageos-csi-helper-sa"
	SchedulerSA            = "storageos-scheduler-sa"
	SchedulerConfigMapName = "storageos-scheduler-config"
	InitSecretName         = "init-secret"
	IngressTLSSecretName   = "tls-secret"
	EtcdTLSSecretName      = "storageos-tls-etcd"
	IngressName            = "storageos-ingress"
	// NFSProvisionerRole lets StorageOS's node ServiceAccount manage the NFSServers of ReadWriteMany claims.
	NFSProvisionerRole = "storageos:nfs-provisioner"
	// OpenShiftSCCRole grants the privileged SCC on OpenShift; NFS servers are bound to it too.
	OpenShiftSCCRole = "storageos:openshift-scc"
)

// CredentialSecret is the secret a csi.enable*Creds flag creates, and the keys of the cluster's API secret its
// username and password come from.
type CredentialSecret struct {
	Name        string
	UsernameKey string
	PasswordKey string
	// Parameter is the StorageClass parameter prefix, e.g. csi.storage.k8s.io/provisioner-secret.
	Parameter string
}

// The CSI credential secrets, one per csi.enable*Creds flag.
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
	csiAddress         = "/csi/csi.sock"
	etcdTLSMountPath   = "/run/storageos/pki"
	schedulerConfigDir = "/etc/kubernetes/storageos-scheduler"
)
