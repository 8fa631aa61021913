package desired

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Input is everything the desired state depends on.
type Input struct {
	Cluster *storageosv1.StorageOSCluster
	// KubeVersion is the API server's version; it picks the CSI sidecars and the scheduler image.
	KubeVersion *version.Version
	// Images are the resolved images (ResolveImages).
	Images Images
	// APISecret is the data of the secret named by secretRefName: API credentials, CSI credentials, TLS pair.
	APISecret map[string][]byte
	// EtcdTLSSecret is the secret named by tlsEtcdSecretRefName, nil when none is set.
	EtcdTLSSecret *corev1.Secret
}

// Operand is one part of the deployment, reconciled as one phase. Every object carries its operand in the
// component label, so a phase can find and remove the objects it no longer wants.
type Operand string

// The operands, one per phase.
const (
	OperandRBAC         Operand = "rbac"
	OperandConfig       Operand = "config"
	OperandNode         Operand = "node"
	OperandCSI          Operand = "csi"
	OperandAPI          Operand = "api"
	OperandScheduler    Operand = "scheduler"
	OperandStorageClass Operand = "storageclass"
)

// Operands in dependency order: namespace and RBAC, secrets and config, the node DaemonSet, CSI, the API
// service and ingress, the scheduler extender, the storage class.
var Operands = []Operand{OperandRBAC, OperandConfig, OperandNode, OperandCSI, OperandAPI, OperandScheduler, OperandStorageClass}

// Build returns the objects an operand wants for this input. An empty list means the operand wants nothing
// (e.g. CSI while csi.enable is false).
func Build(op Operand, in Input) []client.Object {
	switch op {
	case OperandRBAC:
		return rbacObjects(in)
	case OperandConfig:
		return configObjects(in)
	case OperandNode:
		return []client.Object{nodeDaemonSet(in)}
	case OperandCSI:
		return csiObjects(in)
	case OperandAPI:
		return apiObjects(in)
	case OperandScheduler:
		return schedulerObjects(in)
	case OperandStorageClass:
		return []client.Object{storageClass(in)}
	}
	return nil
}

// Labels are the labels of every object an operand creates for a cluster; the applier adds managed-by.
func Labels(c *storageosv1.StorageOSCluster, op Operand) map[string]string {
	return map[string]string{
		names.LabelApp:              "storageos",
		names.LabelName:             "storageos",
		names.LabelInstance:         c.Name,
		names.LabelPartOf:           "storageos",
		names.LabelComponent:        string(op),
		names.LabelClusterNamespace: c.Namespace,
	}
}

// meta is the metadata of a namespaced object in the cluster's namespace.
func meta(in Input, op Operand, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: string(in.Cluster.Spec.Namespace), Labels: Labels(in.Cluster, op)}
}

// clusterMeta is the metadata of a cluster-scoped object.
func clusterMeta(in Input, op Operand, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: Labels(in.Cluster, op)}
}

func namespace(in Input) string { return string(in.Cluster.Spec.Namespace) }
