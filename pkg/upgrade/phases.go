package upgrade

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
)

// preconditions (step a): exactly one StorageOSCluster in the upgrade's own namespace, Running; no other upgrade
// of that namespace ahead of this one; an image that differs from what the node DaemonSet runs. Waiting here
// changes nothing, so it has no timeout.
func (r *Reconciler) preconditions(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	u.Status.Phase = storageosv1.UpgradePhasePending
	// An upgrade pauses the cluster, scales down StorageOS applications everywhere and writes its image into the
	// privileged node DaemonSet: only whoever may create upgrades where the cluster is may ask for that, so the
	// cluster of another namespace is never looked at, let alone acted on.
	var clusters []storageosv1.StorageOSCluster
	if err := listPages(ctx, r.Reader, func() *storageosv1.StorageOSClusterList { return &storageosv1.StorageOSClusterList{} },
		func(l *storageosv1.StorageOSClusterList) { clusters = append(clusters, l.Items...) }, client.InNamespace(u.Namespace)); err != nil {
		return outcome{}, err
	}
	if len(clusters) == 0 {
		elsewhere, err := r.anyCluster(ctx)
		if err != nil {
			return outcome{}, err
		}
		if elsewhere {
			// Refused for good rather than waiting: the cluster exists, only not here, and the user must know now.
			// Which namespace holds it is not said: the requester may have no right to see other namespaces.
			return outcome{failure: notEntitled(u), failReason: ReasonClusterNotInNamespace}, nil
		}
		message := fmt.Sprintf("no StorageOSCluster in namespace %s yet: an upgrade acts only on the cluster in its own namespace", u.Namespace)
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonWaitingForCluster, message)
		return wait("a StorageOSCluster in namespace %s", u.Namespace), nil
	}
	// A preview only looks, so it waits for no other upgrade (and none waits for it): its plan says which goes
	// first.
	blocker, err := r.blockingUpgrade(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	if blocker != "" && !u.Spec.Preview {
		message := "waiting for upgrade " + blocker + " to finish and be deleted: one upgrade runs at a time"
		out := wait("%s", message)
		if announce(u, ReasonBlocked) {
			out.events = append(out.events, event{corev1.EventTypeNormal, EventBlocked, "Wait", message})
		}
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonBlocked, message)
		return out, nil
	}
	if len(clusters) != 1 {
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonWaitingForCluster,
			fmt.Sprintf("found %d StorageOSClusters in namespace %s; an upgrade needs exactly one", len(clusters), u.Namespace))
		return wait("one StorageOSCluster"), nil
	}
	c := &clusters[0]
	if c.Status.Phase != storageosv1.ClusterPhaseRunning || !c.DeletionTimestamp.IsZero() {
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonWaitingForCluster,
			fmt.Sprintf("StorageOSCluster %s/%s is %q; waiting for Running", c.Namespace, c.Name, c.Status.Phase))
		return wait("cluster Running"), nil
	}
	ds := &appsv1.DaemonSet{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.Namespace), Name: names.DaemonSet}, ds); err != nil {
		return outcome{}, fmt.Errorf("reading the node DaemonSet: %w", err)
	}
	current := nodeImage(&ds.Spec.Template.Spec)
	inv, err := r.inventory(ctx)
	if err != nil {
		return outcome{}, err
	}
	// The plan is computed on every look, whatever follows: with preview it is all the upgrade does, and while
	// the upgrade waits it shows what holds it back. Deterministic, so an unchanged plan costs no status write.
	shown := u.Status.Plan
	if u.Status.Plan, err = r.plan(ctx, inv, current, string(u.Spec.NewImage), ds.Status.DesiredNumberScheduled, nil); err != nil {
		return outcome{}, err
	}
	plan := &u.Status.Plan
	// What the upgrade is about to do, shown from the first look (previewing and waiting too); ScalingDown and
	// Upgrading count again as they go.
	planned := func(out outcome) outcome {
		out.applications = counted(0, int(plan.Summary.Applications))
		out.nodes = counted(0, int(plan.Summary.Nodes))
		return out
	}
	if u.Spec.Preview {
		s := plan.Summary
		message := fmt.Sprintf("preview: %s to scale down, %s it cannot stop, %s, %s; set spec.preview to false to start",
			quantity(s.Applications, "application", "applications"), quantity(s.UnstoppablePods, "pod", "pods"),
			quantity(s.BlockingAutoscalers, "blocking autoscaler", "blocking autoscalers"), quantity(s.Nodes, "node", "nodes"))
		if blocker != "" {
			message += " (upgrade " + blocker + " goes first: one upgrade runs at a time)"
		}
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonPreviewing, message)
		return planned(wait("spec.preview to be false")), nil
	}
	if current == string(u.Spec.NewImage) {
		return outcome{failure: "the cluster already runs " + current, failReason: ReasonImageUnchanged}, nil
	}
	if unsafe := DeletesClaimsWhenScaled(inv, StorageOSWorkloads(inv)); len(unsafe) > 0 {
		return outcome{failure: unsafeMessage(unsafe), failReason: ReasonClaimsWouldBeDeleted}, nil
	}
	if message := BlockingMessage(plan); message != "" && !u.Spec.AcceptUnstoppablePods {
		out := planned(wait("no pods it cannot stop, or %s", AcceptField))
		if announce(u, ReasonUnstoppablePods) {
			out.events = append(out.events, event{corev1.EventTypeWarning, EventUnstoppablePods, "Wait", eventNote(message)})
		}
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonUnstoppablePods, message)
		return out, nil
	}
	u.Status.Cluster = &storageosv1.ClusterReference{Namespace: c.Namespace, Name: c.Name}
	u.Status.PreviousImage = current
	u.Status.ClusterWasPaused = c.Spec.Pause
	out := advance(storageosv1.UpgradePhasePullingImage)
	// A plan shown before (a preview's, or one the upgrade waited on) that differs from the one it starts from
	// is said once, as are the plan's warnings; emitted once the status that starts the upgrade is written.
	if shown.ToImage != "" {
		if diff := PlanDiff(&shown, plan); len(diff) > 0 {
			out.events = append(out.events, event{corev1.EventTypeNormal, EventPlanChanged, "Start",
				eventNote("the upgrade starts from a plan that differs from the one shown: " + strings.Join(diff, "; "))})
		}
	}
	// One event for all warnings: the events API folds events of the same reason and action into a series,
	// which would keep the first note only.
	if len(plan.Warnings) > 0 {
		out.events = append(out.events, event{corev1.EventTypeWarning, EventPlanWarning, "Start",
			eventNote("the plan warns: " + strings.Join(plan.Warnings, "; "))})
	}
	return planned(out), nil
}

// announce reports whether a wait for reason begins on this look, so that it is said in an event once: the
// condition's message may change while the upgrade waits (pods come and go) without a new event.
func announce(u *storageosv1.StorageOSUpgrade, reason string) bool {
	c := meta.FindStatusCondition(u.Status.Conditions, ConditionProgressing)
	return c == nil || c.Reason != reason
}

// plan computes the upgrade's plan from the cluster as it is: the inventory, and the pods, their owners and the
// autoscalers read now. stopping, when set, are the applications the upgrade has scaled down (its status'
// workloads), in place of those it would scale down now.
func (r *Reconciler) plan(ctx context.Context, inv Inventory, from, to string, nodes int32, stopping []storageosv1.ScaledWorkload) (storageosv1.UpgradePlan, error) {
	in, err := r.planInput(ctx)
	if err != nil {
		return storageosv1.UpgradePlan{}, err
	}
	in.Inventory, in.FromImage, in.ToImage, in.Nodes, in.Stopping = inv, from, to, nodes, stopping
	return ComputePlan(in), nil
}

// maxEventNote is the longest note the events API accepts.
const maxEventNote = 1024

// eventNote cuts a note to what the events API accepts.
func eventNote(note string) string {
	if len(note) <= maxEventNote {
		return note
	}
	const more = "..."
	return strings.ToValidUTF8(note[:maxEventNote-len(more)], "") + more
}

// toScaleDown are the workloads an upgrade scales down: those that run.
func toScaleDown(found []storageosv1.ScaledWorkload) []storageosv1.ScaledWorkload {
	var out []storageosv1.ScaledWorkload
	for _, w := range found {
		if w.Replicas > 0 {
			out = append(out, w)
		}
	}
	return out
}

// anyCluster reports whether a StorageOSCluster exists in any namespace; one is enough to know.
func (r *Reconciler) anyCluster(ctx context.Context) (bool, error) {
	var list storageosv1.StorageOSClusterList
	if err := r.Reader.List(ctx, &list, client.Limit(1)); err != nil {
		return false, err
	}
	return len(list.Items) > 0, nil
}

// notEntitled is the refusal of an upgrade whose namespace holds no StorageOSCluster.
func notEntitled(u *storageosv1.StorageOSUpgrade) string {
	return fmt.Sprintf("no StorageOSCluster in namespace %s: an upgrade acts only on the cluster in its own namespace, "+
		"and this one changed nothing; create the StorageOSUpgrade in the StorageOSCluster's namespace", u.Namespace)
}

// blockingUpgrade names another upgrade of the same namespace that goes first: one that has started (and is
// not deleted yet: a completed one keeps the cluster in maintenance mode until it is), or an older one still
// pending. Only upgrades of the cluster's namespace can act on it, so one at a time there is one at a time on
// the cluster; upgrades elsewhere (refused, or waiting for a cluster of their own) neither block it nor are
// named to it. They are read from the API server: of two upgrades created together, each must see the other.
func (r *Reconciler) blockingUpgrade(ctx context.Context, u *storageosv1.StorageOSUpgrade) (string, error) {
	var upgrades []storageosv1.StorageOSUpgrade
	if err := listPages(ctx, r.Reader, func() *storageosv1.StorageOSUpgradeList { return &storageosv1.StorageOSUpgradeList{} },
		func(l *storageosv1.StorageOSUpgradeList) { upgrades = append(upgrades, l.Items...) }, client.InNamespace(u.Namespace)); err != nil {
		return "", err
	}
	sort.Slice(upgrades, func(i, j int) bool { return older(&upgrades[i], &upgrades[j]) })
	for i := range upgrades {
		other := &upgrades[i]
		if other.UID == u.UID || other.Spec.Preview {
			continue // a preview only looks: it goes ahead of no upgrade
		}
		pending := other.Status.Phase == "" || other.Status.Phase == storageosv1.UpgradePhasePending
		if !pending || older(other, u) {
			return fmt.Sprintf("%s/%s (phase %q)", other.Namespace, other.Name, other.Status.Phase), nil
		}
	}
	return "", nil
}

func older(a, b *storageosv1.StorageOSUpgrade) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// nodeImage is the image of the StorageOS container of a node pod, or of the node DaemonSet's template.
func nodeImage(pod *corev1.PodSpec) string {
	for _, c := range pod.Containers {
		if c.Name == names.NodeContainer {
			return c.Image
		}
	}
	return ""
}

// pullImage (step b): a Job makes every StorageOS node pull newImage; the next step deletes it.
func (r *Reconciler) pullImage(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	c, err := r.getCluster(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	ds := &appsv1.DaemonSet{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.Namespace), Name: names.DaemonSet}, ds); err != nil {
		return outcome{}, fmt.Errorf("reading the node DaemonSet: %w", err)
	}
	want := PullJob(u, ds)
	job := &storageosv1.Job{}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(want), job) // cached: its status names every node
	switch {
	case apierrors.IsNotFound(err):
		if err := r.Client.Create(ctx, want, client.FieldOwner(names.UpgradeManager)); err != nil && !apierrors.IsAlreadyExists(err) {
			return outcome{}, fmt.Errorf("creating the image pull Job: %w", err)
		}
		return wait("image pull Job created"), nil
	case err != nil:
		return outcome{}, err
	case job.Labels[LabelUpgrade] != string(u.UID):
		// Left over by an earlier upgrade: replace it.
		return wait("removing an earlier upgrade's image pull Job"), r.deleteJob(ctx, job)
	case !job.Status.Completed:
		out := wait("image pulled on %d of %d nodes", job.Status.NodesCompleted, job.Status.NodesTotal)
		out.pulled = counted(int(job.Status.NodesCompleted), int(job.Status.NodesTotal))
		return out, nil
	}
	return advance(storageosv1.UpgradePhasePausing), nil
}

func (r *Reconciler) deleteJob(ctx context.Context, job *storageosv1.Job) error {
	return client.IgnoreNotFound(r.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)))
}

// deletePullJob removes this upgrade's image pull Job, if it is still there.
func (r *Reconciler) deletePullJob(ctx context.Context, u *storageosv1.StorageOSUpgrade, namespace string) error {
	job := &storageosv1.Job{}
	// Read fresh: a Job created an instant ago may not be in the cache yet, and must not be left running.
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: PullJobName}, job)
	if apierrors.IsNotFound(err) || (err == nil && job.Labels[LabelUpgrade] != string(u.UID)) {
		return nil
	}
	if err != nil {
		return err
	}
	return r.deleteJob(ctx, job)
}

// pause (step c): the pull Job goes, the cluster-manager stops changing the cluster, and StorageOS enters
// maintenance mode.
func (r *Reconciler) pause(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	c, err := r.getCluster(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	if err := r.deletePullJob(ctx, u, string(c.Spec.Namespace)); err != nil {
		return outcome{}, err
	}
	if err := r.setPause(ctx, c, true); err != nil {
		return outcome{}, err
	}
	api, err := r.api(ctx, c)
	if err != nil {
		return outcome{}, err
	}
	if err := api.EnableMaintenance(ctx); err != nil {
		return outcome{}, fmt.Errorf("enabling maintenance mode: %w", err)
	}
	return advance(storageosv1.UpgradePhaseScalingDown), nil
}

func (r *Reconciler) setPause(ctx context.Context, c *storageosv1.StorageOSCluster, pause bool) error {
	if c.Spec.Pause == pause {
		return nil
	}
	patch := []byte(fmt.Sprintf(`{"spec":{"pause":%t}}`, pause))
	return r.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(names.UpgradeManager))
}

// scaleDown (step d): every StorageOS application is recorded in status (and annotated) before it is scaled
// to zero; the step ends when their pods are gone. Applications that appear meanwhile are found on the next
// look.
func (r *Reconciler) scaleDown(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	inv, err := r.inventory(ctx)
	if err != nil {
		return outcome{}, err
	}
	// Checked again: a StatefulSet may have appeared or changed since the preconditions.
	found := StorageOSWorkloads(inv)
	if unsafe := DeletesClaimsWhenScaled(inv, found); len(unsafe) > 0 {
		return outcome{failure: unsafeMessage(unsafe), failReason: ReasonClaimsWouldBeDeleted}, nil
	}
	recorded := map[string]bool{}
	for _, w := range u.Status.Workloads {
		recorded[workloadKey(w)] = true
	}
	before := u.DeepCopy()
	for _, w := range toScaleDown(found) {
		if !recorded[workloadKey(w)] {
			u.Status.Workloads = append(u.Status.Workloads, w)
		}
	}
	if len(u.Status.Workloads) != len(before.Status.Workloads) {
		// The record comes before the scaling, so a crash in between loses no replica count.
		if err := kube.PatchStatus(ctx, r.Client, names.UpgradeManager, before, u, client.MergeFromWithOptimisticLock{}); err != nil {
			return outcome{}, err
		}
	}

	selectors := map[string][]labels.Selector{} // by namespace
	workloads := inv.index()
	scaledNow := 0
	for _, w := range u.Status.Workloads {
		obj, ok := workloads[workloadKey(w)]
		if !ok {
			continue // deleted meanwhile
		}
		_, podSelector := workloadSpec(obj)
		selector, err := metav1.LabelSelectorAsSelector(podSelector)
		if err != nil {
			return outcome{}, err
		}
		if replicas, _ := workloadSpec(obj); replicas != 0 {
			scaledNow++
		}
		if err := r.scale(ctx, obj, 0, w.Replicas, u); err != nil {
			return outcome{}, err
		}
		selectors[w.Namespace] = append(selectors[w.Namespace], selector)
	}
	// An application is down once no pod of it is left; one deleted meanwhile counts as down, as it holds
	// nothing up.
	remaining, running := 0, 0
	for namespace, sels := range selectors {
		n, withPods, err := r.podsLeft(ctx, namespace, sels)
		if err != nil {
			return outcome{}, err
		}
		remaining += n
		running += withPods
	}
	total := len(u.Status.Workloads)
	out := advance(storageosv1.UpgradePhaseUpgrading)
	switch {
	case remaining > 0:
		out = wait("%s of %s still exist", quantity(remaining, "pod", "pods"), quantity(total, "application", "applications"))
	case scaledNow > 0:
		// Pods are counted from the cache, which may not show yet a pod its controller created an instant before
		// the scale-down: the next look, not this one, decides that none is left.
		out = wait("%s scaled down", quantity(scaledNow, "application", "applications"))
	default:
		// The last look before StorageOS goes offline, so the plan is computed again: since the upgrade started, a
		// CronJob may have run, a pod been created by hand, an autoscaler been set to minReplicas 0. What the
		// upgrade cannot stop holds it here, named in its condition, until it is gone or accepted; or until the
		// step times out, and the applications are scaled back.
		plan := u.Status.Plan
		if u.Status.Plan, err = r.plan(ctx, inv, u.Status.PreviousImage, string(u.Spec.NewImage), plan.Summary.Nodes, u.Status.Workloads); err != nil {
			return outcome{}, err
		}
		if message := BlockingMessage(&u.Status.Plan); message != "" && !u.Spec.AcceptUnstoppablePods {
			out = wait("%s", message)
		}
	}
	out.applications = counted(total-running, total)
	return out, nil
}

// podsLeft counts the pods of a namespace that any of the selectors match and that may still hold a volume, and
// how many of the selectors match at least one. From the cache, which holds only the pods that may still hold a
// volume (evicted and completed pods hold none, and scaling does not remove them).
func (r *Reconciler) podsLeft(ctx context.Context, namespace string, selectors []labels.Selector) (left, matched int, err error) {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return 0, 0, err
	}
	hasPods := make([]bool, len(selectors))
	for i := range pods.Items {
		if phase := pods.Items[i].Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			continue // the cache leaves them out already (unfinishedPods); a finished pod holds no volume either way
		}
		found := false
		for j, s := range selectors {
			if s.Matches(labels.Set(pods.Items[i].Labels)) {
				found, hasPods[j] = true, true
			}
		}
		if found {
			left++
		}
	}
	for _, has := range hasPods {
		if has {
			matched++
		}
	}
	return left, matched, nil
}

// planInput reads, from the cache, what the plan needs beside the inventory: the pods that may hold a volume,
// the metadata of ReplicaSets and Jobs (the owners between a pod and what the user manages), and the
// HorizontalPodAutoscalers. Only read, so not copied out of the cache.
func (r *Reconciler) planInput(ctx context.Context) (PlanInput, error) {
	var (
		in   PlanInput
		pods corev1.PodList
		hpas autoscalingv2.HorizontalPodAutoscalerList
	)
	if err := r.Client.List(ctx, &pods, client.UnsafeDisableDeepCopy); err != nil {
		return PlanInput{}, fmt.Errorf("listing pods: %w", err)
	}
	for i := range pods.Items {
		if len(pods.Items[i].Spec.Volumes) > 0 {
			in.Pods = append(in.Pods, pods.Items[i])
		}
	}
	for _, owners := range []struct {
		gvk  schema.GroupVersionKind
		into *[]metav1.PartialObjectMetadata
	}{
		{appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), &in.ReplicaSets},
		{batchv1.SchemeGroupVersion.WithKind("Job"), &in.Jobs},
	} {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(owners.gvk.GroupVersion().WithKind(owners.gvk.Kind + "List"))
		if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return PlanInput{}, fmt.Errorf("listing %ss: %w", owners.gvk.Kind, err)
		}
		*owners.into = list.Items
	}
	if err := r.Client.List(ctx, &hpas, client.UnsafeDisableDeepCopy); err != nil {
		return PlanInput{}, fmt.Errorf("listing HorizontalPodAutoscalers: %w", err)
	}
	in.Autoscalers = hpas.Items
	return in, nil
}

// inventory is what discovery needs, across all namespaces, from the cache. Claims, volumes and classes are
// only read, so they are not copied out of the cache: on a large cluster a copy of every claim per look would
// be most of the look's cost.
func (r *Reconciler) inventory(ctx context.Context) (Inventory, error) {
	var (
		classes storagev1.StorageClassList
		claims  corev1.PersistentVolumeClaimList
		pvs     corev1.PersistentVolumeList
	)
	for _, l := range []client.ObjectList{&classes, &claims, &pvs} {
		if err := r.Client.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return Inventory{}, err
		}
	}
	inv, err := r.listWorkloads(ctx)
	inv.StorageClasses, inv.Claims, inv.Volumes = classes.Items, claims.Items, pvs.Items
	return inv, err
}

// upgradeNodes (step e): the cluster's spec gets newImage (so the cluster-manager keeps it once unpaused), the
// node DaemonSet's template gets it, and node pods on another image are deleted so the DaemonSet (OnDelete)
// recreates them. The step ends when every scheduled node pod runs newImage and is ready.
func (r *Reconciler) upgradeNodes(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	c, err := r.getCluster(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	image := string(u.Spec.NewImage)
	if c.Spec.Images.NodeContainer != u.Spec.NewImage {
		patch := []byte(fmt.Sprintf(`{"spec":{"images":{"nodeContainer":%q}}}`, image))
		if err := r.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(names.UpgradeManager)); err != nil {
			return outcome{}, fmt.Errorf("setting spec.images.nodeContainer: %w", err)
		}
	}
	ds := &appsv1.DaemonSet{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.Namespace), Name: names.DaemonSet}, ds); err != nil {
		return outcome{}, fmt.Errorf("reading the node DaemonSet: %w", err)
	}
	if nodeImage(&ds.Spec.Template.Spec) != image {
		patch := []byte(fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":%q,"image":%q}]}}}}`, names.NodeContainer, image))
		if err := r.Client.Patch(ctx, ds, client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner(names.UpgradeManager)); err != nil {
			return outcome{}, fmt.Errorf("setting the node DaemonSet's image: %w", err)
		}
	}
	if ds.Status.ObservedGeneration < ds.Generation {
		// Pods deleted before the DaemonSet controller has seen the new template could come back on the old one.
		return wait("waiting for the DaemonSet controller to observe the new template"), nil
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return outcome{}, err
	}
	// From the cache: on a large cluster, a list of the node pods from the API server on every look would be
	// most of the step's cost. A pod the cache shows late is only looked at on the next look.
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(ds.Namespace), client.MatchingLabelsSelector{Selector: selector},
		client.UnsafeDisableDeepCopy); err != nil {
		return outcome{}, err
	}
	upgraded := 0
	var outdated []*corev1.Pod
	for i := range pods.Items {
		p := &pods.Items[i]
		switch {
		case !p.DeletionTimestamp.IsZero():
		case nodeImage(&p.Spec) != image:
			outdated = append(outdated, p)
		case kube.PodReady(p):
			upgraded++
		}
	}
	if err := r.deletePods(ctx, outdated); err != nil {
		return outcome{}, err
	}
	want := ds.Status.DesiredNumberScheduled
	out := advance(storageosv1.UpgradePhaseScalingUp)
	if want == 0 || int32(upgraded) < want || int32(len(pods.Items)) != want {
		out = wait("%d of %d node pods run %s and are ready", upgraded, want, image)
	}
	out.nodes = counted(upgraded, int(want))
	return out, nil
}

// podDeletions is how many node pods the node step deletes at once. StorageOS is offline and every application
// down, so all of them go in this step; one after another, 5,000 pods took minutes of a single look, during
// which the DaemonSet controller had few pods to recreate and the status showed no progress.
const podDeletions = 16

// deletePods deletes the pods, podDeletions at a time. Pods already gone are not an error.
func (r *Reconciler) deletePods(ctx context.Context, pods []*corev1.Pod) error {
	var g errgroup.Group
	g.SetLimit(podDeletions)
	for _, p := range pods {
		g.Go(func() error {
			// A copy: Delete writes the API server's answer into the object, which is the cache's.
			if err := r.Client.Delete(ctx, p.DeepCopy()); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting node pod %s: %w", p.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// scaleUp (step f): every recorded application back to its recorded count; the step ends when they are ready.
func (r *Reconciler) scaleUp(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	notReady, err := r.restoreWorkloads(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	out := advance(storageosv1.UpgradePhaseCompleted)
	if notReady > 0 {
		out = wait("%d of %s %s not ready yet", notReady, quantity(len(u.Status.Workloads), "application", "applications"), plural(notReady, "is", "are"))
	}
	out.applications = counted(notReady, len(u.Status.Workloads))
	return out, nil
}

// restore scales applications back after a failed step, without waiting for them: the cluster may be
// broken, and the user needs the upgrade to reach Failed to know. The image pull Job goes too.
func (r *Reconciler) restore(ctx context.Context, u *storageosv1.StorageOSUpgrade) (outcome, error) {
	if _, err := r.restoreWorkloads(ctx, u); err != nil {
		return outcome{}, err
	}
	if u.Status.Cluster != nil {
		if c, err := r.getCluster(ctx, u); err == nil {
			if err := r.deletePullJob(ctx, u, string(c.Spec.Namespace)); err != nil {
				return outcome{}, err
			}
		} else if !apierrors.IsNotFound(err) {
			return outcome{}, err
		}
	}
	out := advance(storageosv1.UpgradePhaseFailed)
	// Every application is scaled back; whether it becomes ready is not waited for, so none counts as down.
	out.applications = counted(0, len(u.Status.Workloads))
	return out, nil
}

// restoreWorkloads scales every recorded application still scaled down to its recorded count and removes the
// annotation; it returns how many are not ready yet. Applications deleted meanwhile are skipped.
func (r *Reconciler) restoreWorkloads(ctx context.Context, u *storageosv1.StorageOSUpgrade) (int, error) {
	if len(u.Status.Workloads) == 0 {
		return 0, nil
	}
	inv, err := r.listWorkloads(ctx)
	if err != nil {
		return 0, err
	}
	workloads := inv.index()
	notReady := 0
	for _, w := range u.Status.Workloads {
		obj, ok := workloads[workloadKey(w)]
		if !ok {
			continue
		}
		// Only a workload still carrying the annotations, naming this upgrade, is scaled back: the same patch
		// removes them, so a later change of replicas (an autoscaler, the user) is never undone, and a status
		// listing someone else's workload (status is writable apart from the spec) scales nothing.
		_, scaledDown := obj.GetAnnotations()[ReplicasAnnotation]
		if scaledDown && obj.GetAnnotations()[UpgradeAnnotation] == u.Namespace+"/"+u.Name {
			if err := r.scale(ctx, obj, w.Replicas, w.Replicas, nil); err != nil {
				return 0, err
			}
		}
		if !workloadReady(obj) {
			notReady++
		}
	}
	return notReady, nil
}
