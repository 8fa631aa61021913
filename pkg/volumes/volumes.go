// Package volumes says which volumes are StorageOS volumes. The scheduler webhook and the upgrade-manager must
// agree on it: a pod the webhook sends to the StorageOS scheduler is one the upgrade scales down. Both ask
// PodUsesStorageOS, each over its own Lookup (the webhook its informer cache, the upgrade its inventory).
package volumes

import (
	"context"

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

// Lookup finds the objects the answer depends on. A missing object is (nil, nil).
type Lookup interface {
	PVC(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error)
	StorageClass(ctx context.Context, name string) (*storagev1.StorageClass, error)
	DefaultStorageClass(ctx context.Context) (*storagev1.StorageClass, error)
	PersistentVolume(ctx context.Context, name string) (*corev1.PersistentVolume, error)
}

// PodUsesStorageOS reports whether any PVC or generic ephemeral volume of a pod in namespace is StorageOS's.
func PodUsesStorageOS(ctx context.Context, namespace string, pod *corev1.PodSpec, l Lookup) (bool, error) {
	for _, v := range pod.Volumes {
		var annotations map[string]string
		var spec *corev1.PersistentVolumeClaimSpec
		switch {
		case v.PersistentVolumeClaim != nil:
			pvc, err := l.PVC(ctx, namespace, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return false, err
			}
			if pvc == nil {
				continue // not created yet, so not StorageOS's (yet)
			}
			annotations, spec = pvc.Annotations, &pvc.Spec
		case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate != nil:
			annotations, spec = v.Ephemeral.VolumeClaimTemplate.Annotations, &v.Ephemeral.VolumeClaimTemplate.Spec
		default:
			continue
		}
		if uses, err := ClaimUsesStorageOS(ctx, annotations, spec, l); err != nil || uses {
			return uses, err
		}
	}
	return false, nil
}

// ClaimUsesStorageOS reports whether a claim, or a claim template (a StatefulSet's volumeClaimTemplates, an
// ephemeral volume's), is StorageOS's: its class has a StorageOS provisioner, or it is bound to a StorageOS
// volume whatever class it names (statically provisioned volumes, claims with storageClassName "").
func ClaimUsesStorageOS(ctx context.Context, annotations map[string]string, spec *corev1.PersistentVolumeClaimSpec, l Lookup) (bool, error) {
	name := spec.StorageClassName
	if legacy, ok := annotations[LegacyClassAnnotation]; ok && name == nil {
		name = &legacy
	}
	var class *storagev1.StorageClass
	var err error
	switch {
	case name == nil:
		class, err = l.DefaultStorageClass(ctx)
	case *name != "": // "" is no class at all
		class, err = l.StorageClass(ctx, *name)
	}
	if err != nil {
		return false, err
	}
	if class != nil && provisioners[class.Provisioner] {
		return true, nil
	}
	if spec.VolumeName == "" {
		return false, nil
	}
	pv, err := l.PersistentVolume(ctx, spec.VolumeName)
	if err != nil || pv == nil {
		return false, err
	}
	csi := pv.Spec.CSI != nil && pv.Spec.CSI.Driver == names.CSIDriver
	return csi || pv.Spec.StorageOS != nil, nil
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
