package upgrade

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"

	"github.com/storageos/cluster-operator/pkg/volumes"
)

// PlanInput is what an upgrade's plan is computed from, read by the caller; ComputePlan reads nothing itself, so
// every case is a table test.
type PlanInput struct {
	// Inventory is what discovery reads (the controller's inventory): the plan's applications are the
	// upgrade's, StorageOSWorkloads that run.
	Inventory Inventory
	// Pods are the cluster's pods. Read of each: metadata (owner references), spec.volumes, status.phase.
	// Finished pods (Succeeded, Failed) are ignored: they hold no volume.
	Pods []corev1.Pod
	// ReplicaSets and Jobs are the owners between a pod and what the user manages (its Deployment, its
	// CronJob); only their metadata is read. Those owning pods that use StorageOS are enough. A ReplicaSet
	// missing here makes its pods unstoppable (OwnerNotFound): never stoppable by guess.
	ReplicaSets []metav1.PartialObjectMetadata
	Jobs        []metav1.PartialObjectMetadata
	// Autoscalers are the cluster's HorizontalPodAutoscalers.
	Autoscalers []autoscalingv2.HorizontalPodAutoscaler
	// FromImage is the node image the cluster runs (nodeImage of the node DaemonSet's template), ToImage the
	// upgrade's spec.newImage.
	FromImage, ToImage string
	// Nodes is how many StorageOS node pods the upgrade replaces: the node DaemonSet's
	// status.desiredNumberScheduled.
	Nodes int32
	// Stopping, once the upgrade has scaled its applications down, are those (status.workloads): the plan's
	// applications then, whatever runs now. Unset, they are the StorageOS workloads that run.
	Stopping []storageosv1.ScaledWorkload
}

// ComputePlan is what an upgrade will do, from what the cluster holds now: the applications it scales down
// (with the claims that make them StorageOS's), the pods using StorageOS volumes that it cannot stop, the
// autoscalers of its applications and what it does about them, the nodes, the image change and the warnings.
// Deterministic: the same input gives the same plan, sorted, so that writing it again changes nothing.
func ComputePlan(in PlanInput) storageosv1.UpgradePlan {
	ctx := context.Background() // the inventory's lookup reads maps only, and never fails
	l := newInventoryLookup(in.Inventory)
	found := StorageOSWorkloads(in.Inventory)
	planned := toScaleDown(found)
	if in.Stopping != nil {
		planned = in.Stopping
	}
	p := storageosv1.UpgradePlan{FromImage: in.FromImage, ToImage: in.ToImage}

	workloads := in.Inventory.index()
	inPlan := make(map[string]bool, len(planned))
	for _, w := range planned {
		inPlan[workloadKey(w)] = true
		if len(p.Applications) < storageosv1.PlanListMax {
			p.Applications = append(p.Applications, storageosv1.PlannedApplication{Kind: w.Kind, Namespace: w.Namespace,
				Name: w.Name, Replicas: w.Replicas, Claims: workloadClaims(ctx, workloads[workloadKey(w)], l)})
		}
	}

	owners := newOwnerIndex(in.ReplicaSets, in.Jobs, workloads, inPlan)
	var unstoppable []storageosv1.UnstoppablePod
	for i := range in.Pods {
		pod := &in.Pods[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		claims := storageOSClaims(ctx, pod.Namespace, pod.Spec.Volumes, func(volume string) string { return pod.Name + "-" + volume }, l)
		if len(claims) == 0 {
			continue
		}
		kind, name, reason := owners.stopper(pod)
		if reason == "" {
			continue // its application is in the plan: scaling it down stops the pod
		}
		unstoppable = append(unstoppable, storageosv1.UnstoppablePod{Namespace: pod.Namespace, Name: pod.Name,
			OwnerKind: kind, OwnerName: name, Reason: reason, Claims: capClaims(claims)})
	}
	slices.SortFunc(unstoppable, func(a, b storageosv1.UnstoppablePod) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})

	autoscalers := plannedAutoscalers(in.Autoscalers, inPlan)
	blocking := 0
	for _, a := range autoscalers {
		if a.Handling == storageosv1.AutoscalerHandlingBlocks {
			blocking++
		}
	}

	p.Summary = storageosv1.PlanSummary{Applications: int32(len(planned)), UnstoppablePods: int32(len(unstoppable)),
		Autoscalers: int32(len(autoscalers)), BlockingAutoscalers: int32(blocking), Nodes: in.Nodes}
	p.ApplicationsOmitted = int32(len(planned) - len(p.Applications))
	p.UnstoppablePods, p.UnstoppablePodsOmitted = bounded(unstoppable)
	p.Autoscalers, p.AutoscalersOmitted = bounded(autoscalers)
	p.Warnings = planWarnings(in, found)
	return p
}

// bounded is a list cut to PlanListMax entries, and how many were cut.
func bounded[T any](list []T) ([]T, int32) {
	if len(list) <= storageosv1.PlanListMax {
		return list, 0
	}
	return list[:storageosv1.PlanListMax:storageosv1.PlanListMax], int32(len(list) - storageosv1.PlanListMax)
}

// planWarnings are the version warnings, then what else the user should know before the upgrade starts.
func planWarnings(in PlanInput, found []storageosv1.ScaledWorkload) []string {
	warnings := VersionWarnings(in.FromImage, in.ToImage)
	if in.Nodes == 0 {
		warnings = append(warnings, "the node DaemonSet schedules no StorageOS pod: the upgrade would wait for nodes to upgrade")
	}
	if unsafe := DeletesClaimsWhenScaled(in.Inventory, found); len(unsafe) > 0 {
		const named = 10 // a warning is a line of kubectl describe, not the list of a large cluster
		if len(unsafe) > named {
			unsafe = append(unsafe[:named:named], fmt.Sprintf("and %d more", len(unsafe)-named))
		}
		warnings = append(warnings, unsafeMessage(unsafe)+"; an upgrade started now fails at once")
	}
	if len(warnings) > storageosv1.PlanWarningsMax {
		warnings = warnings[:storageosv1.PlanWarningsMax]
	}
	return warnings
}

// workloadClaims names the StorageOS claims of a Deployment's or StatefulSet's pods, in the order of the pod
// template's volumes, then the StatefulSet's claim templates.
func workloadClaims(ctx context.Context, obj client.Object, l volumes.Lookup) []string {
	var meta *metav1.ObjectMeta
	var spec *corev1.PodSpec
	var templates []corev1.PersistentVolumeClaim
	switch o := obj.(type) {
	case *appsv1.Deployment:
		meta, spec = &o.ObjectMeta, &o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		meta, spec, templates = &o.ObjectMeta, &o.Spec.Template.Spec, o.Spec.VolumeClaimTemplates
	default:
		return nil
	}
	claims := storageOSClaims(ctx, meta.Namespace, spec.Volumes, func(volume string) string { return meta.Name + "-*-" + volume }, l)
	for i := range templates {
		t := &templates[i]
		if uses, _ := volumes.ClaimUsesStorageOS(ctx, t.Annotations, &t.Spec, l); uses {
			claims = append(claims, t.Name+"-"+meta.Name+"-*")
		}
	}
	return capClaims(claims)
}

// storageOSClaims names the claims of the volumes that are StorageOS's, as volumes.PodUsesStorageOS tells it
// (asked of each volume alone, so there is one answer to "is this StorageOS's"): a claim by its name, a generic
// ephemeral volume by the name of the claim Kubernetes makes for it.
func storageOSClaims(ctx context.Context, namespace string, vols []corev1.Volume, ephemeralClaim func(volume string) string, l volumes.Lookup) []string {
	var out []string
	for i := range vols {
		v := vols[i]
		if uses, _ := volumes.PodUsesStorageOS(ctx, namespace, &corev1.PodSpec{Volumes: []corev1.Volume{v}}, l); !uses {
			continue
		}
		if v.PersistentVolumeClaim != nil {
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		} else {
			out = append(out, ephemeralClaim(v.Name))
		}
	}
	return out
}

// capClaims keeps a plan entry small: at most PlanClaimsMax names, the last saying how many more.
func capClaims(claims []string) []string {
	if len(claims) <= storageosv1.PlanClaimsMax {
		return claims
	}
	kept := storageosv1.PlanClaimsMax - 1
	return append(claims[:kept:kept], fmt.Sprintf("+%d more", len(claims)-kept))
}

// ownerIndex follows a pod to what stops it: the application the upgrade scales down.
type ownerIndex struct {
	replicaSets, jobs map[string]*metav1.ObjectMeta // by namespace/name
	workloads         map[string]client.Object      // the inventory's, by workloadKey
	inPlan            map[string]bool               // by workloadKey
}

func newOwnerIndex(replicaSets, jobs []metav1.PartialObjectMetadata, workloads map[string]client.Object, inPlan map[string]bool) ownerIndex {
	byName := func(list []metav1.PartialObjectMetadata) map[string]*metav1.ObjectMeta {
		out := make(map[string]*metav1.ObjectMeta, len(list))
		for i := range list {
			out[list[i].Namespace+"/"+list[i].Name] = &list[i].ObjectMeta
		}
		return out
	}
	return ownerIndex{replicaSets: byName(replicaSets), jobs: byName(jobs), workloads: workloads, inPlan: inPlan}
}

// Owner kinds, by API group, as owner references name them.
var (
	replicaSetKind  = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
	deploymentKind  = schema.GroupKind{Group: "apps", Kind: string(storageosv1.WorkloadKindDeployment)}
	statefulSetKind = schema.GroupKind{Group: "apps", Kind: string(storageosv1.WorkloadKindStatefulSet)}
	daemonSetKind   = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	jobKind         = schema.GroupKind{Group: "batch", Kind: "Job"}
	cronJobKind     = schema.GroupKind{Group: "batch", Kind: "CronJob"}
)

// ownerNone is the owner kind of a pod no controller owns.
const ownerNone = "None"

// stopper is the owner the user manages (the Deployment of a ReplicaSet, the CronJob of a Job) and why the
// upgrade cannot stop the pod, or no reason when scaling an application of the plan down stops it. Only
// controller references count: other owner references (garbage collection only) stop nothing.
func (ix ownerIndex) stopper(pod *corev1.Pod) (kind, name string, reason storageosv1.UnstoppableReason) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return ownerNone, "", storageosv1.UnstoppableNoOwner
	}
	switch groupKind(ref) {
	case replicaSetKind:
		rs, ok := ix.replicaSets[pod.Namespace+"/"+ref.Name]
		if !ok {
			return ref.Kind, ref.Name, storageosv1.UnstoppableOwnerNotFound
		}
		switch d := metav1.GetControllerOf(rs); {
		case d == nil: // a bare ReplicaSet: not the upgrade's to scale
			return ref.Kind, ref.Name, storageosv1.UnstoppableOtherOwner
		case groupKind(d) != deploymentKind: // another controller's (Argo Rollouts, for one)
			return d.Kind, d.Name, storageosv1.UnstoppableOtherOwner
		default:
			return ix.application(storageosv1.WorkloadKindDeployment, pod.Namespace, d.Name)
		}
	case statefulSetKind:
		return ix.application(storageosv1.WorkloadKindStatefulSet, pod.Namespace, ref.Name)
	case daemonSetKind:
		return ref.Kind, ref.Name, storageosv1.UnstoppableDaemonSet
	case jobKind:
		if job, ok := ix.jobs[pod.Namespace+"/"+ref.Name]; ok {
			if c := metav1.GetControllerOf(job); c != nil && groupKind(c) == cronJobKind {
				return c.Kind, c.Name, storageosv1.UnstoppableCronJob
			}
		}
		return ref.Kind, ref.Name, storageosv1.UnstoppableJob
	}
	return ref.Kind, ref.Name, storageosv1.UnstoppableOtherOwner
}

// application says whether the upgrade stops the pods of a Deployment or StatefulSet: it does when it scales
// it down. One it found but does not scale is either scaled to zero already (its pods are going) or has a pod
// template without StorageOS volumes while pods of an earlier template still use them (a rollout in progress):
// the pods stay until its controller removes them, and the upgrade waits for that rather than guessing.
func (ix ownerIndex) application(kind storageosv1.WorkloadKind, namespace, name string) (string, string, storageosv1.UnstoppableReason) {
	key := workloadKey(storageosv1.ScaledWorkload{Kind: kind, Namespace: namespace, Name: name})
	switch {
	case ix.inPlan[key]:
		return string(kind), name, ""
	case ix.workloads[key] != nil:
		return string(kind), name, storageosv1.UnstoppableOwnerNotScaled
	}
	return string(kind), name, storageosv1.UnstoppableOwnerNotFound
}

func groupKind(ref *metav1.OwnerReference) schema.GroupKind {
	return schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).GroupKind()
}

// plannedAutoscalers are the HorizontalPodAutoscalers targeting an application of the plan, sorted by namespace
// and name.
func plannedAutoscalers(hpas []autoscalingv2.HorizontalPodAutoscaler, inPlan map[string]bool) []storageosv1.PlannedAutoscaler {
	var out []storageosv1.PlannedAutoscaler
	for i := range hpas {
		h := &hpas[i]
		target := h.Spec.ScaleTargetRef
		gv, err := schema.ParseGroupVersion(target.APIVersion)
		if err != nil || gv.Group != "apps" {
			continue
		}
		kind := storageosv1.WorkloadKind(target.Kind)
		if !inPlan[workloadKey(storageosv1.ScaledWorkload{Kind: kind, Namespace: h.Namespace, Name: target.Name})] {
			continue
		}
		minReplicas := int32(1) // the API's default
		if h.Spec.MinReplicas != nil {
			minReplicas = *h.Spec.MinReplicas
		}
		handling := storageosv1.AutoscalerHandlingNone
		if minReplicas == 0 {
			handling = storageosv1.AutoscalerHandlingBlocks
		}
		out = append(out, storageosv1.PlannedAutoscaler{Namespace: h.Namespace, Name: h.Name, TargetKind: kind,
			TargetName: target.Name, MinReplicas: minReplicas, Handling: handling})
	}
	slices.SortFunc(out, func(a, b storageosv1.PlannedAutoscaler) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out
}
