package desired

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/utils/ptr"

	"github.com/storageos/cluster-operator/pkg/names"
)

// storageClass is the StorageClass for StorageOS volumes, with the CSI credential secrets as parameters.
func storageClass(in Input) *storagev1.StorageClass {
	spec := in.Cluster.Spec
	sc := &storagev1.StorageClass{
		ObjectMeta:           clusterMeta(in, OperandStorageClass, string(spec.StorageClassName)),
		Provisioner:          names.LegacyProvisioner,
		ReclaimPolicy:        ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode:    ptr.To(storagev1.VolumeBindingImmediate),
		AllowVolumeExpansion: ptr.To(false),
		Parameters: map[string]string{
			// The in-tree driver reads the API credentials from the cluster's API secret.
			"adminSecretNamespace": string(spec.SecretRefNamespace),
			"adminSecretName":      string(spec.SecretRefName),
		},
	}
	if !spec.CSI.Enable {
		return sc
	}
	sc.Provisioner = names.CSIDriver
	sc.AllowVolumeExpansion = ptr.To(resizerSupported(in.KubeVersion))
	sc.Parameters = map[string]string{"csi.storage.k8s.io/fstype": "ext4"}
	for _, c := range EnabledCredentials(spec) {
		sc.Parameters[c.Parameter+"-name"] = c.Name
		sc.Parameters[c.Parameter+"-namespace"] = namespace(in)
	}
	return sc
}
