// Package volumes says which volumes are StorageOS volumes. The scheduler webhook and the upgrade-manager must
// agree on it: a pod the webhook sends to the StorageOS scheduler is one the upgrade scales down.
package volumes

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/storageos/cluster-operator/pkg/names"
)

const (
	// LegacyClassAnnotation is how PVCs named their class before storageClassName existed.
	LegacyClassAnnotation = "volume.beta.kubernetes.io/storage-class"
	// DefaultClassAnnotation marks the class used by PVCs that name none.
	DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
)

// provisioners are the provisioners of StorageOS volumes: CSI, and the names older classes use.
var provisioners = map[string]bool{names.CSIDriver: true, "storageos": true, names.LegacyProvisioner: true}

// IsStorageOSProvisioner reports whether a StorageClass with this provisioner makes StorageOS volumes.
func IsStorageOSProvisioner(provisioner string) bool { return provisioners[provisioner] }

// ClaimClass is the class a claim names: storageClassName, else the legacy annotation. nil means the
// default class; an empty name means no class at all.
func ClaimClass(spec corev1.PersistentVolumeClaimSpec, annotations map[string]string) *string {
	if spec.StorageClassName != nil {
		return spec.StorageClassName
	}
	if legacy, ok := annotations[LegacyClassAnnotation]; ok {
		return &legacy
	}
	return nil
}

// DefaultClass is the class marked default; with several, the newest, as the API server picks. nil if none.
func DefaultClass(classes []storagev1.StorageClass) *storagev1.StorageClass {
	var found *storagev1.StorageClass
	for i := range classes {
		sc := &classes[i]
		if sc.Annotations[DefaultClassAnnotation] != "true" {
			continue
		}
		if found == nil || found.CreationTimestamp.Before(&sc.CreationTimestamp) {
			found = sc
		}
	}
	return found
}
