package desired

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/version"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Every image resolves spec > RELATED_IMAGE_* > built-in default. The schema has no image defaults, so an image
// the spec leaves out really is empty and the operator's environment decides.
func TestResolveImages(t *testing.T) {
	kube := version.MustParseGeneric("1.37.2")
	type pick func(Images) string
	cases := []struct {
		name     string
		image    pick
		setSpec  func(*storageosv1.ContainerImages, storageosv1.ImageReference)
		env      string
		fallback string
	}{
		{"node", func(i Images) string { return i.Node },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.NodeContainer = v }, EnvNodeImage, DefaultNodeImage},
		{"init", func(i Images) string { return i.Init },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.InitContainer = v }, EnvInitImage, DefaultInitImage},
		{"node driver registrar", func(i Images) string { return i.CSINodeDriverRegistrar },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) {
				s.CSINodeDriverRegistrarContainer = v
			},
			EnvCSINodeDriverRegistrarImage, DefaultCSINodeDriverRegistrarImage},
		{"provisioner", func(i Images) string { return i.CSIExternalProvisioner },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) {
				s.CSIExternalProvisionerContainer = v
			},
			EnvCSIExternalProvisionerImage, DefaultCSIExternalProvisionerImage},
		{"attacher", func(i Images) string { return i.CSIExternalAttacher },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.CSIExternalAttacherContainer = v },
			EnvCSIExternalAttacherImage, DefaultCSIExternalAttacherV3Image},
		{"resizer", func(i Images) string { return i.CSIExternalResizer },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.CSIExternalResizerContainer = v },
			EnvCSIExternalResizerImage, DefaultCSIExternalResizerImage},
		{"liveness probe", func(i Images) string { return i.CSILivenessProbe },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.CSILivenessProbeContainer = v },
			EnvCSILivenessProbeImage, DefaultCSILivenessProbeImage},
		{"scheduler", func(i Images) string { return i.KubeScheduler },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.KubeSchedulerContainer = v },
			EnvKubeSchedulerImage, "registry.k8s.io/kube-scheduler:v1.37.2"},
		{"nfs", func(i Images) string { return i.NFS },
			func(s *storageosv1.ContainerImages, v storageosv1.ImageReference) { s.NFSContainer = v }, EnvNFSImage, DefaultNFSImage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noEnv := func(string) string { return "" }
			withEnv := func(name string) string {
				if name == tc.env {
					return "mirror.example.com/pinned:1"
				}
				return ""
			}
			spec := storageosv1.ContainerImages{}
			assert.Equal(t, tc.fallback, tc.image(ResolveImages(spec, kube, noEnv)), "built-in default")
			assert.Equal(t, "mirror.example.com/pinned:1", tc.image(ResolveImages(spec, kube, withEnv)), "the environment beats the default")
			tc.setSpec(&spec, "example.com/from-spec:2")
			assert.Equal(t, "example.com/from-spec:2", tc.image(ResolveImages(spec, kube, withEnv)), "the spec beats the environment")
		})
	}
}

// status.images shows what is deployed: no CSI images without CSI, no scheduler image without the scheduler.
func TestDeployedImages(t *testing.T) {
	kube := version.MustParseGeneric("1.37.2")
	images := ResolveImages(storageosv1.ContainerImages{}, kube, func(string) string { return "" })

	bare := images.Deployed(storageosv1.StorageOSClusterSpec{DisableScheduler: true}, kube)
	assert.Equal(t, storageosv1.ContainerImages{NodeContainer: DefaultNodeImage, InitContainer: DefaultInitImage,
		NFSContainer: DefaultNFSImage}, bare)

	full := images.Deployed(storageosv1.StorageOSClusterSpec{CSI: storageosv1.StorageOSClusterCSI{Enable: true}}, kube)
	assert.EqualValues(t, DefaultCSIExternalResizerImage, full.CSIExternalResizerContainer)
	assert.EqualValues(t, DefaultCSILivenessProbeImage, full.CSILivenessProbeContainer)
	assert.EqualValues(t, "registry.k8s.io/kube-scheduler:v1.37.2", full.KubeSchedulerContainer)
	assert.Empty(t, full.CSIClusterDriverRegistrarContainer, "not deployed on Kubernetes with the CSIDriver API")

	old := version.MustParseGeneric("1.15.0")
	assert.Empty(t, ResolveImages(storageosv1.ContainerImages{}, old, func(string) string { return "" }).
		Deployed(storageosv1.StorageOSClusterSpec{CSI: storageosv1.StorageOSClusterCSI{Enable: true}}, old).CSIExternalResizerContainer,
		"no resizer before Kubernetes 1.16")
}
