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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
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

// StorageOSWorkloads are the Deployments and StatefulSets whose pods use a StorageOS volume, as
// volumes.PodUsesStorageOS tells it, or (StatefulSets) whose volumeClaimTemplates are of a StorageOS class.
// Sorted by kind, namespace and name, so status is stable.
func StorageOSWorkloads(inv Inventory) []storageosv1.ScaledWorkload {
	ctx := context.Background() // the inventory's lookup reads maps only, and never fails
	l := newInventoryLookup(inv)
	var out []storageosv1.ScaledWorkload
	for _, d := range inv.Deployments {
		if uses, _ := volumes.PodUsesStorageOS(ctx, d.Namespace, &d.Spec.Template.Spec, l); uses {
			out = append(out, scaled(storageosv1.WorkloadKindDeployment, &d.ObjectMeta, d.Spec.Replicas))
		}
	}
	for _, s := range inv.StatefulSets {
		uses, _ := volumes.PodUsesStorageOS(ctx, s.Namespace, &s.Spec.Template.Spec, l)
		for i := 0; !uses && i < len(s.Spec.VolumeClaimTemplates); i++ {
			t := &s.Spec.VolumeClaimTemplates[i]
			uses, _ = volumes.ClaimUsesStorageOS(ctx, t.Annotations, &t.Spec, l)
		}
		if uses {
			out = append(out, scaled(storageosv1.WorkloadKindStatefulSet, &s.ObjectMeta, s.Spec.Replicas))
		}
	}
	sort.Slice(out, func(i, j int) bool { return workloadKey(out[i]) < workloadKey(out[j]) })
	return out
}

// inventoryLookup is a volumes.Lookup over an Inventory, indexed once per discovery: it is asked about every
// volume of hundreds of workloads.
type inventoryLookup struct {
	claims       map[string]*corev1.PersistentVolumeClaim // by namespace/name
	classes      map[string]*storagev1.StorageClass
	defaultClass *storagev1.StorageClass
	volumes      map[string]*corev1.PersistentVolume
}

func newInventoryLookup(inv Inventory) *inventoryLookup {
	l := &inventoryLookup{
		claims:       make(map[string]*corev1.PersistentVolumeClaim, len(inv.Claims)),
		classes:      make(map[string]*storagev1.StorageClass, len(inv.StorageClasses)),
		defaultClass: volumes.DefaultClass(inv.StorageClasses),
		volumes:      make(map[string]*corev1.PersistentVolume, len(inv.Volumes)),
	}
	for i := range inv.Claims {
		l.claims[inv.Claims[i].Namespace+"/"+inv.Claims[i].Name] = &inv.Claims[i]
	}
	for i := range inv.StorageClasses {
		l.classes[inv.StorageClasses[i].Name] = &inv.StorageClasses[i]
	}
	for i := range inv.Volumes {
		l.volumes[inv.Volumes[i].Name] = &inv.Volumes[i]
	}
	return l
}

func (l *inventoryLookup) PVC(_ context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	return l.claims[namespace+"/"+name], nil
}
func (l *inventoryLookup) StorageClass(_ context.Context, name string) (*storagev1.StorageClass, error) {
	return l.classes[name], nil
}
func (l *inventoryLookup) DefaultStorageClass(context.Context) (*storagev1.StorageClass, error) {
	return l.defaultClass, nil
}
func (l *inventoryLookup) PersistentVolume(_ context.Context, name string) (*corev1.PersistentVolume, error) {
	return l.volumes[name], nil
}

// scaled is a workload as the upgrade records it.
func scaled(kind storageosv1.WorkloadKind, m *metav1.ObjectMeta, replicas *int32) storageosv1.ScaledWorkload {
	return storageosv1.ScaledWorkload{Kind: kind, Namespace: m.Namespace, Name: m.Name, Replicas: kube.Replicas(replicas)}
}

// workloadKey identifies a workload by kind, namespace and name.
func workloadKey(w storageosv1.ScaledWorkload) string {
	return string(w.Kind) + "/" + w.Namespace + "/" + w.Name
}

// index maps the inventory's workloads by kind/namespace/name, so a step reads them in two lists rather
// than one request each.
func (inv Inventory) index() map[string]client.Object {
	out := make(map[string]client.Object, len(inv.Deployments)+len(inv.StatefulSets))
	for i := range inv.Deployments {
		d := &inv.Deployments[i]
		out[workloadKey(scaled(storageosv1.WorkloadKindDeployment, &d.ObjectMeta, nil))] = d
	}
	for i := range inv.StatefulSets {
		s := &inv.StatefulSets[i]
		out[workloadKey(scaled(storageosv1.WorkloadKindStatefulSet, &s.ObjectMeta, nil))] = s
	}
	return out
}

// listWorkloads lists the Deployments and StatefulSets of every namespace from the cache, as copies: the ones
// scaled are patched, and the patch's answer is decoded into them.
func (r *Reconciler) listWorkloads(ctx context.Context) (Inventory, error) {
	var deploys appsv1.DeploymentList
	var sets appsv1.StatefulSetList
	for _, l := range []client.ObjectList{&deploys, &sets} {
		if err := r.Client.List(ctx, l); err != nil {
			return Inventory{}, err
		}
	}
	return Inventory{Deployments: deploys.Items, StatefulSets: sets.Items}, nil
}

// scale sets a workload's replicas. Scaling down (by is the upgrade) annotates it with the count to restore
// and the upgrade; scaling back (by is nil) removes the annotations. Nothing is sent when it is already so.
// obj comes from the cache, which may lag behind: scaling down again what is already down is harmless, but
// scaling back what the cache still shows annotated could undo a change made since the annotation went (an
// autoscaler's, the user's), so scaling back is conditional on obj's resource version and fails with a
// conflict when the cache was behind.
func (r *Reconciler) scale(ctx context.Context, obj client.Object, to, recorded int32, by *storageosv1.StorageOSUpgrade) error {
	current, _ := workloadSpec(obj)
	_, annotated := obj.GetAnnotations()[ReplicasAnnotation]
	metadata := map[string]any{}
	switch {
	case by != nil && (current != to || !annotated):
		metadata["annotations"] = map[string]any{ReplicasAnnotation: strconv.Itoa(int(recorded)), UpgradeAnnotation: by.Namespace + "/" + by.Name}
	case by == nil && (current != to || annotated):
		metadata["annotations"] = map[string]any{ReplicasAnnotation: nil, UpgradeAnnotation: nil}
		metadata["resourceVersion"] = obj.GetResourceVersion()
	default:
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": metadata,
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

// workloadSpec is a workload's desired replica count and pod selector.
func workloadSpec(obj client.Object) (int32, *metav1.LabelSelector) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return kube.Replicas(o.Spec.Replicas), o.Spec.Selector
	case *appsv1.StatefulSet:
		return kube.Replicas(o.Spec.Replicas), o.Spec.Selector
	}
	return 0, nil
}

// workloadReady reports whether a workload runs the replicas its spec asks for, ready, as its controller
// reports it.
func workloadReady(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		want := kube.Replicas(o.Spec.Replicas)
		return o.Status.ObservedGeneration >= o.Generation && o.Status.UpdatedReplicas >= want && o.Status.ReadyReplicas >= want
	case *appsv1.StatefulSet:
		want := kube.Replicas(o.Spec.Replicas)
		return o.Status.ObservedGeneration >= o.Generation && o.Status.ReadyReplicas >= want
	}
	return false
}

// DeletesClaimsWhenScaled names, among the StorageOS workloads found in inv, the StatefulSets whose PVCs Kubernetes deletes when they are
// scaled down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete): scaling them to zero would destroy
// their volumes, so the upgrade refuses to start until they retain them.
func DeletesClaimsWhenScaled(inv Inventory, found []storageosv1.ScaledWorkload) []string {
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

func unsafeMessage(statefulSets []string) string {
	return "StatefulSets " + strings.Join(statefulSets, ", ") + " delete their PVCs when scaled down " +
		"(persistentVolumeClaimRetentionPolicy.whenScaled: Delete); set it to Retain, then create the upgrade again"
}
