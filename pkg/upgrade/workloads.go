package upgrade

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

// Inventory is what the discovery of StorageOS applications looks at, listed across all namespaces.
type Inventory struct {
	StorageClasses []storagev1.StorageClass
	Claims         []corev1.PersistentVolumeClaim
	// Volumes are the PersistentVolumes, so that a claim bound to a StorageOS volume counts whatever class it
	// names (statically provisioned volumes, claims with storageClassName "").
	Volumes      []corev1.PersistentVolume
	Deployments  []appsv1.Deployment
	StatefulSets []appsv1.StatefulSet
}

// Workload is a Deployment or StatefulSet found to use StorageOS volumes, with its current replica count.
type Workload struct {
	Kind      storageosv1.WorkloadKind
	Namespace string
	Name      string
	Replicas  int32
}

// StorageOSWorkloads are the Deployments and StatefulSets whose pods use a StorageOS volume: a PVC, a generic
// ephemeral volume or (StatefulSets) a volumeClaimTemplate whose class — named, legacy annotation or the
// default — has a StorageOS provisioner, or a PVC bound to a StorageOS volume (CSI driver csi.storageos.com or
// the in-tree StorageOS volume). Sorted by kind, namespace and name, so status is stable.
func StorageOSWorkloads(inv Inventory) []Workload {
	storageOSClass := map[string]bool{}
	for _, sc := range inv.StorageClasses {
		storageOSClass[sc.Name] = volumes.IsStorageOSProvisioner(sc.Provisioner)
	}
	defaultClass := ""
	if sc := volumes.DefaultClass(inv.StorageClasses); sc != nil {
		defaultClass = sc.Name
	}
	isStorageOS := func(class *string) bool {
		if class == nil {
			return storageOSClass[defaultClass]
		}
		return storageOSClass[*class]
	}
	storageOSVolume := map[string]bool{}
	for _, pv := range inv.Volumes {
		csi := pv.Spec.CSI != nil && volumes.IsStorageOSProvisioner(pv.Spec.CSI.Driver)
		storageOSVolume[pv.Name] = csi || pv.Spec.StorageOS != nil //nolint:staticcheck // the in-tree StorageOS volume of old clusters
	}
	claims := map[string]bool{} // namespace/name of StorageOS claims
	for _, pvc := range inv.Claims {
		// A bound claim's class was fixed when it was created; use the annotation-or-name it records, and the
		// volume it is bound to.
		if isStorageOS(volumes.ClaimClass(pvc.Spec, pvc.Annotations)) || storageOSVolume[pvc.Spec.VolumeName] {
			claims[pvc.Namespace+"/"+pvc.Name] = true
		}
	}
	usesStorageOS := func(namespace string, pod corev1.PodSpec) bool {
		for _, v := range pod.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil && claims[namespace+"/"+v.PersistentVolumeClaim.ClaimName]:
				return true
			case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate != nil &&
				isStorageOS(volumes.ClaimClass(v.Ephemeral.VolumeClaimTemplate.Spec, v.Ephemeral.VolumeClaimTemplate.Annotations)):
				return true
			}
		}
		return false
	}

	var out []Workload
	for _, d := range inv.Deployments {
		if usesStorageOS(d.Namespace, d.Spec.Template.Spec) {
			out = append(out, Workload{storageosv1.WorkloadKindDeployment, d.Namespace, d.Name, replicas(d.Spec.Replicas)})
		}
	}
	for _, s := range inv.StatefulSets {
		uses := usesStorageOS(s.Namespace, s.Spec.Template.Spec)
		for _, t := range s.Spec.VolumeClaimTemplates {
			uses = uses || isStorageOS(volumes.ClaimClass(t.Spec, t.Annotations))
		}
		if uses {
			out = append(out, Workload{storageosv1.WorkloadKindStatefulSet, s.Namespace, s.Name, replicas(s.Spec.Replicas)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return workloadKey(out[i]) < workloadKey(out[j]) })
	return out
}

func workloadKey(w Workload) string { return string(w.Kind) + "/" + w.Namespace + "/" + w.Name }

func recordedKey(w storageosv1.ScaledWorkload) string {
	return string(w.Kind) + "/" + w.Namespace + "/" + w.Name
}

// replicas is a workload's desired count; unset means 1, as the API server defaults it.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// index maps the inventory's workloads by kind/namespace/name, so a step reads them in two lists rather
// than one request each.
func (inv Inventory) index() map[string]client.Object {
	out := make(map[string]client.Object, len(inv.Deployments)+len(inv.StatefulSets))
	for i := range inv.Deployments {
		d := &inv.Deployments[i]
		out[string(storageosv1.WorkloadKindDeployment)+"/"+d.Namespace+"/"+d.Name] = d
	}
	for i := range inv.StatefulSets {
		s := &inv.StatefulSets[i]
		out[string(storageosv1.WorkloadKindStatefulSet)+"/"+s.Namespace+"/"+s.Name] = s
	}
	return out
}

// listWorkloads lists the Deployments and StatefulSets of every namespace from the API server.
func (r *Reconciler) listWorkloads(ctx context.Context) (Inventory, error) {
	var deploys appsv1.DeploymentList
	var sets appsv1.StatefulSetList
	for _, l := range []client.ObjectList{&deploys, &sets} {
		if err := r.Reader.List(ctx, l); err != nil {
			return Inventory{}, err
		}
	}
	return Inventory{Deployments: deploys.Items, StatefulSets: sets.Items}, nil
}

// podSelector is a workload's pod selector.
func podSelector(obj client.Object) (labels.Selector, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return metav1.LabelSelectorAsSelector(o.Spec.Selector)
	case *appsv1.StatefulSet:
		return metav1.LabelSelectorAsSelector(o.Spec.Selector)
	}
	return nil, fmt.Errorf("not a workload: %T", obj)
}

// scale sets a workload's replicas. Scaling down (by is the upgrade) annotates it with the count to restore
// and the upgrade; scaling back (by is nil) removes the annotations. Nothing is sent when it is already so.
func (r *Reconciler) scale(ctx context.Context, obj client.Object, to, recorded int32, by *storageosv1.StorageOSUpgrade) error {
	current := workloadReplicas(obj)
	_, annotated := obj.GetAnnotations()[ReplicasAnnotation]
	var annotations map[string]any
	switch {
	case by != nil && (current != to || !annotated):
		annotations = map[string]any{ReplicasAnnotation: strconv.Itoa(int(recorded)), UpgradeAnnotation: by.Namespace + "/" + by.Name}
	case by == nil && (current != to || annotated):
		annotations = map[string]any{ReplicasAnnotation: nil, UpgradeAnnotation: nil}
	default:
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": annotations},
		"spec":     map[string]any{"replicas": to},
	})
	if err != nil {
		return err
	}
	if err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(names.UpgradeManager)); err != nil {
		return fmt.Errorf("scaling %s %s/%s to %d: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), to, err)
	}
	return nil
}

func workloadReplicas(obj client.Object) int32 {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return replicas(o.Spec.Replicas)
	case *appsv1.StatefulSet:
		return replicas(o.Spec.Replicas)
	}
	return 0
}

// workloadReady reports whether a workload runs the replicas its spec asks for, ready, as its controller
// reports it.
func workloadReady(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		want := replicas(o.Spec.Replicas)
		return o.Status.ObservedGeneration >= o.Generation && o.Status.UpdatedReplicas >= want && o.Status.ReadyReplicas >= want
	case *appsv1.StatefulSet:
		want := replicas(o.Spec.Replicas)
		return o.Status.ObservedGeneration >= o.Generation && o.Status.ReadyReplicas >= want
	}
	return false
}

// DeletesClaimsWhenScaled names, among the StorageOS workloads found in inv, the StatefulSets whose PVCs Kubernetes deletes when they are
// scaled down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete): scaling them to zero would destroy
// their volumes, so the upgrade refuses to start until they retain them.
func DeletesClaimsWhenScaled(inv Inventory, found []Workload) []string {
	uses := map[string]bool{}
	for _, w := range found {
		if w.Kind == storageosv1.WorkloadKindStatefulSet && w.Replicas > 0 {
			uses[w.Namespace+"/"+w.Name] = true
		}
	}
	var out []string
	for _, s := range inv.StatefulSets {
		p := s.Spec.PersistentVolumeClaimRetentionPolicy
		if uses[s.Namespace+"/"+s.Name] && p != nil && p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			out = append(out, s.Namespace+"/"+s.Name)
		}
	}
	sort.Strings(out)
	return out
}

func unsafeMessage(names []string) string {
	return "StatefulSets " + strings.Join(names, ", ") + " delete their PVCs when scaled down " +
		"(persistentVolumeClaimRetentionPolicy.whenScaled: Delete); set it to Retain, then create the upgrade again"
}
