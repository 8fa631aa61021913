package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

// The annotations a provisioner reads and writes, as Kubernetes defines them.
const (
	// provisionedByAnnotation names a dynamically provisioned volume's provisioner. The PV controller leaves a
	// Released volume whose provisioner is not in-tree to that provisioner to delete.
	provisionedByAnnotation = "pv.kubernetes.io/provisioned-by"
	// selectedNodeAnnotation is where the scheduler puts the node it chose for a claim of a
	// WaitForFirstConsumer class; provisioners wait for it.
	selectedNodeAnnotation = "volume.kubernetes.io/selected-node"
	// fsTypeParameter is the class parameter the CSI external-provisioner passes on as the volume's fsType.
	fsTypeParameter = "csi.storage.k8s.io/fstype"
)

// provisionedClasses are the provisioners whose classes the demo provisions volumes for: the CSI driver and
// the in-tree name the operator's class has with CSI off (the sample's). kube-controller-manager has no
// in-tree StorageOS plugin any more, so without this nothing would provision for the latter either.
var provisionedClasses = sets.New(names.CSIDriver, names.LegacyProvisioner)

// provisioner plays the part of StorageOS's volume provisioner, which no simulated node runs: it creates a
// volume for every pending claim of a StorageOS class, which kube-controller-manager's PV controller then
// binds as it would a real one, and deletes the volumes it provisioned once their claims are gone. So any
// claim of a StorageOS class is bound the way a real cluster binds it, including the claims operators create.
type provisioner struct {
	c client.Client
	// log receives what it provisioned and deleted, and its errors (each once, until it changes).
	log     io.Writer
	lastErr string
}

// run syncs every interval until ctx is done. Errors (the API server restarting, say) are retried on the
// next tick.
func (p *provisioner) run(ctx context.Context, interval time.Duration) {
	for {
		switch err := p.sync(ctx); {
		case err == nil:
			p.lastErr = ""
		case ctx.Err() == nil && err.Error() != p.lastErr:
			p.logf("error (retried every %s): %v", interval, err)
			p.lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// sync provisions a volume for every claim that needs one and deletes every released volume it provisioned.
func (p *provisioner) sync(ctx context.Context) error {
	var classes storagev1.StorageClassList
	if err := p.c.List(ctx, &classes); err != nil {
		return fmt.Errorf("listing StorageClasses: %w", err)
	}
	var claims corev1.PersistentVolumeClaimList
	if err := p.c.List(ctx, &claims); err != nil {
		return fmt.Errorf("listing PersistentVolumeClaims: %w", err)
	}
	var pvs corev1.PersistentVolumeList
	if err := p.c.List(ctx, &pvs); err != nil {
		return fmt.Errorf("listing PersistentVolumes: %w", err)
	}
	existing := sets.New[string]()
	for _, pv := range pvs.Items {
		existing.Insert(pv.Name)
	}
	var errs []error
	for i := range claims.Items {
		pv := volumeFor(&claims.Items[i], classes.Items)
		// A volume made on an earlier tick that the PV controller has not bound yet is not made twice.
		if pv == nil || existing.Has(pv.Name) {
			continue
		}
		err := p.c.Create(ctx, pv)
		switch {
		case apierrors.IsAlreadyExists(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("provisioning %s for claim %s/%s: %w", pv.Name, pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name, err))
		default:
			p.logf("provisioned %s for claim %s/%s", pv.Name, pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name)
		}
	}
	for i := range pvs.Items {
		pv := &pvs.Items[i]
		if pv.Annotations[provisionedByAnnotation] != names.CSIDriver || pv.Status.Phase != corev1.VolumeReleased ||
			pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete || pv.DeletionTimestamp != nil {
			continue
		}
		// The UID precondition: a volume deleted and made again since the list is not this one.
		err := p.c.Delete(ctx, pv, client.Preconditions{UID: &pv.UID})
		switch {
		case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting released volume %s: %w", pv.Name, err))
		default:
			p.logf("deleted released volume %s", pv.Name)
		}
	}
	return errors.Join(errs...)
}

// volumeFor is the volume the StorageOS CSI external-provisioner would create for claim, or nil when it would
// create none: the claim is bound or being bound, not of a StorageOS class, or not to be provisioned yet.
//
// A claim is told to be StorageOS's by its class rather than by the volume.kubernetes.io/storage-provisioner
// annotation the PV controller sets: the PV controller does not set it for the in-tree name (it reports that
// no plugin matched instead), and the class is needed anyway for the volume's reclaim policy and mount
// options.
func volumeFor(claim *corev1.PersistentVolumeClaim, classes []storagev1.StorageClass) *corev1.PersistentVolume {
	if claim.Status.Phase != corev1.ClaimPending || claim.Spec.VolumeName != "" || claim.DeletionTimestamp != nil ||
		claim.UID == "" {
		return nil
	}
	// The external-provisioner refuses claims with a selector: they ask for an existing volume.
	if claim.Spec.Selector != nil {
		return nil
	}
	class := claimClass(claim, classes)
	if class == nil || !provisionedClasses.Has(class.Provisioner) {
		return nil
	}
	if ptr.Deref(class.VolumeBindingMode, storagev1.VolumeBindingImmediate) == storagev1.VolumeBindingWaitForFirstConsumer &&
		claim.Annotations[selectedNodeAnnotation] == "" {
		return nil
	}
	size, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil
	}
	name := "pvc-" + string(claim.UID)
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name,
			// The CSI driver's name whatever the class's provisioner: StorageOS's CSI driver stands in for the
			// in-tree plugin too, and the PV controller leaves only a non-in-tree provisioner's volumes Released
			// for it to delete (it marks an in-tree one's Failed, having no plugin to delete it with).
			Annotations: map[string]string{provisionedByAnnotation: names.CSIDriver}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   claim.Spec.AccessModes,
			VolumeMode:                    claim.Spec.VolumeMode,
			StorageClassName:              class.Name,
			PersistentVolumeReclaimPolicy: ptr.Deref(class.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete),
			MountOptions:                  class.MountOptions,
			// The UID binds the volume to this claim only: a claim deleted and made again gets a new volume.
			ClaimRef: &corev1.ObjectReference{APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: claim.Namespace, Name: claim.Name, UID: claim.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: names.CSIDriver, VolumeHandle: name, FSType: class.Parameters[fsTypeParameter]}},
		},
	}
}

// claimClass is the class of a claim as the PV controller reads it (the legacy annotation before the field),
// the default class when it names none, nil when it has no class or its class does not exist.
func claimClass(claim *corev1.PersistentVolumeClaim, classes []storagev1.StorageClass) *storagev1.StorageClass {
	name := claim.Spec.StorageClassName
	if legacy, ok := claim.Annotations[volumes.LegacyClassAnnotation]; ok {
		name = &legacy
	}
	if name == nil {
		return volumes.DefaultClass(classes)
	}
	for i := range classes {
		if classes[i].Name == *name {
			return &classes[i]
		}
	}
	return nil
}

func (p *provisioner) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(p.log, "%s "+format+"\n", append([]any{time.Now().Format(time.RFC3339Nano)}, args...)...)
}
