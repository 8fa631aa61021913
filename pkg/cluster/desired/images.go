package desired

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Images are the images a cluster runs, after defaults.
type Images struct {
	Node                   string
	Init                   string
	CSINodeDriverRegistrar string
	CSIExternalProvisioner string
	CSIExternalAttacher    string
	CSIExternalResizer     string
	CSILivenessProbe       string
	KubeScheduler          string
	// NFS is the default image of the cluster's NFSServers.
	NFS string
}

// An image is taken from the spec, else from its RELATED_IMAGE_* variable in the operator's environment (how
// OLM pins images for disconnected installs), else from the built-in default for the Kubernetes version.
const (
	EnvNodeImage                   = "RELATED_IMAGE_STORAGEOS_NODE"
	EnvInitImage                   = "RELATED_IMAGE_STORAGEOS_INIT"
	EnvCSINodeDriverRegistrarImage = "RELATED_IMAGE_CSIV1_NODE_DRIVER_REGISTRAR"
	EnvCSIExternalProvisionerImage = "RELATED_IMAGE_CSIV1_EXTERNAL_PROVISIONER"
	EnvCSIExternalAttacherImage    = "RELATED_IMAGE_CSIV1_EXTERNAL_ATTACHER"
	EnvCSIExternalResizerImage     = "RELATED_IMAGE_CSIV1_EXTERNAL_RESIZER"
	EnvCSILivenessProbeImage       = "RELATED_IMAGE_CSIV1_LIVENESS_PROBE"
	EnvKubeSchedulerImage          = "RELATED_IMAGE_KUBE_SCHEDULER"
	EnvNFSImage                    = "RELATED_IMAGE_NFS"
)

// Built-in defaults, those of the original operator's v2 line.
const (
	DefaultNodeImage                   = "storageos/node:v2.1.0"
	DefaultInitImage                   = "storageos/init:1.0.0"
	DefaultCSINodeDriverRegistrarImage = "quay.io/k8scsi/csi-node-driver-registrar:v2.1.0"
	DefaultCSIExternalProvisionerImage = "storageos/csi-provisioner:v2.1.1-patched"
	DefaultCSIExternalAttacherV3Image  = "quay.io/k8scsi/csi-attacher:v3.1.0"
	DefaultCSIExternalAttacherV2Image  = "quay.io/k8scsi/csi-attacher:v2.2.0"
	DefaultCSIExternalResizerImage     = "quay.io/k8scsi/csi-resizer:v1.1.0"
	DefaultCSILivenessProbeImage       = "quay.io/k8scsi/livenessprobe:v2.2.0"
	DefaultNFSImage                    = "storageos/nfs:1.0.0"
	// The scheduler defaults to the kube-scheduler of the API server's own version from registry.k8s.io. That
	// tag exists for every released Kubernetes version but not for vendor builds (e.g. v1.30.4-eks): set
	// images.kubeSchedulerContainer or RELATED_IMAGE_KUBE_SCHEDULER there.
	kubeSchedulerRepository = "registry.k8s.io/kube-scheduler"
)

// ResolveImages applies the image precedence. env looks up the operator's environment (os.Getenv in the binary).
func ResolveImages(spec storageosv1.ContainerImages, kube *version.Version, env func(string) string) Images {
	pick := func(fromSpec storageosv1.ImageReference, envName, fallback string) string {
		return ResolveImage(fromSpec, envName, fallback, env)
	}
	attacher := DefaultCSIExternalAttacherV3Image
	if !kube.AtLeast(version.MajorMinor(1, 17)) {
		attacher = DefaultCSIExternalAttacherV2Image
	}
	return Images{
		Node:                   pick(spec.NodeContainer, EnvNodeImage, DefaultNodeImage),
		Init:                   pick(spec.InitContainer, EnvInitImage, DefaultInitImage),
		CSINodeDriverRegistrar: pick(spec.CSINodeDriverRegistrarContainer, EnvCSINodeDriverRegistrarImage, DefaultCSINodeDriverRegistrarImage),
		CSIExternalProvisioner: pick(spec.CSIExternalProvisionerContainer, EnvCSIExternalProvisionerImage, DefaultCSIExternalProvisionerImage),
		CSIExternalAttacher:    pick(spec.CSIExternalAttacherContainer, EnvCSIExternalAttacherImage, attacher),
		CSIExternalResizer:     pick(spec.CSIExternalResizerContainer, EnvCSIExternalResizerImage, DefaultCSIExternalResizerImage),
		CSILivenessProbe:       pick(spec.CSILivenessProbeContainer, EnvCSILivenessProbeImage, DefaultCSILivenessProbeImage),
		KubeScheduler: pick(spec.KubeSchedulerContainer, EnvKubeSchedulerImage,
			fmt.Sprintf("%s:v%d.%d.%d", kubeSchedulerRepository, kube.Major(), kube.Minor(), kube.Patch())),
		NFS: pick(spec.NFSContainer, EnvNFSImage, DefaultNFSImage),
	}
}

// ResolveImage is one image by the precedence: the spec's, else the environment variable envName's, else
// fallback.
func ResolveImage(fromSpec storageosv1.ImageReference, envName, fallback string, env func(string) string) string {
	if fromSpec != "" {
		return string(fromSpec)
	}
	if v := env(envName); v != "" {
		return v
	}
	return fallback
}

// Deployed are the images the cluster's objects run, as status.images reports them: the CSI and scheduler images
// only when those components are deployed.
func (i Images) Deployed(spec storageosv1.StorageOSClusterSpec, kube *version.Version) storageosv1.ContainerImages {
	out := storageosv1.ContainerImages{
		NodeContainer: storageosv1.ImageReference(i.Node),
		InitContainer: storageosv1.ImageReference(i.Init),
		NFSContainer:  storageosv1.ImageReference(i.NFS),
	}
	if spec.CSI.Enable {
		out.CSINodeDriverRegistrarContainer = storageosv1.ImageReference(i.CSINodeDriverRegistrar)
		out.CSIExternalProvisionerContainer = storageosv1.ImageReference(i.CSIExternalProvisioner)
		out.CSIExternalAttacherContainer = storageosv1.ImageReference(i.CSIExternalAttacher)
		out.CSILivenessProbeContainer = storageosv1.ImageReference(i.CSILivenessProbe)
		if resizerSupported(kube) {
			out.CSIExternalResizerContainer = storageosv1.ImageReference(i.CSIExternalResizer)
		}
	}
	if !spec.DisableScheduler {
		out.KubeSchedulerContainer = storageosv1.ImageReference(i.KubeScheduler)
	}
	return out
}
