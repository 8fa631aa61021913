package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The status computation is pure: what the reconcile observed and how it went (the scope) in, status out.
// Reading, writing and events stay in the reconciler; status_test.go tests these functions as tables.

// setStatus computes the whole status. The operand conditions follow what this reconcile observed; when it
// observed nothing (blocked, deleting, or it failed before observing) they stay as they were.
func setStatus(s *scope) {
	if o := s.observed; o != nil {
		setNodeStatus(s, o)
		setWorkloadCondition(s, ConditionCSIReady, o.csi)
		setWorkloadCondition(s, ConditionSchedulerReady, o.scheduler)
		setAPIStatus(s, o.api)
	}
	setSpecStatus(s)
	c := s.cluster
	switch {
	case s.deleting:
		c.Status.Phase = storageosv1.ClusterPhaseTerminating
		s.setCondition(ConditionAvailable, metav1.ConditionFalse, ReasonDeleting, "the cluster is being deleted")
	case s.blockedBy != "":
		c.Status.Phase = storageosv1.ClusterPhasePending
		msg := fmt.Sprintf("%s already runs StorageOS in this Kubernetes cluster; this cluster deploys nothing until it is deleted", s.blockedBy)
		s.setCondition(ConditionAvailable, metav1.ConditionFalse, ReasonAnotherCluster, msg)
		s.setCondition(ConditionProgressing, metav1.ConditionFalse, ReasonAnotherCluster, msg)
		s.setCondition(ConditionDegraded, metav1.ConditionTrue, ReasonAnotherCluster, msg)
	default:
		summarise(s)
	}
	if !s.deleting && s.blockedBy == "" && s.err == nil {
		c.Status.ObservedGeneration = c.Generation
	}
}

// setNodeStatus reports the node pods: ready count, members, and whether any runs an outdated template.
func setNodeStatus(s *scope, o *observation) {
	ds := o.daemonSet
	want, ready := ds.Status.DesiredNumberScheduled, ds.Status.NumberReady
	s.cluster.Status.Ready = fmt.Sprintf("%d/%d", ready, want)
	switch {
	case want == 0:
		s.setCondition(ConditionNodeReady, metav1.ConditionFalse, ReasonNoNodes,
			"no node is eligible for StorageOS: check nodeSelectorTerms and tolerations")
	case ready == want:
		s.setCondition(ConditionNodeReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("%d/%d StorageOS node pods ready", ready, want))
	case o.podSecurity != "":
		s.setCondition(ConditionNodeReady, metav1.ConditionFalse, ReasonPodSecurityForbidden,
			fmt.Sprintf("%d/%d StorageOS node pods ready: %s", ready, want, podSecurityProblem(s, o.podSecurity)))
	default:
		s.setCondition(ConditionNodeReady, metav1.ConditionFalse, ReasonNotReady, fmt.Sprintf("%d/%d StorageOS node pods ready", ready, want))
	}
	// The DaemonSet is OnDelete: pods keep their old template until deleted on purpose. Say how many wait.
	if outdated := want - ds.Status.UpdatedNumberScheduled; outdated > 0 && ds.Generation == ds.Status.ObservedGeneration {
		s.setCondition(ConditionNodesUpToDate, metav1.ConditionFalse, ReasonRestartPending,
			fmt.Sprintf("%d StorageOS node pods run an outdated template; they are replaced when deleted (or by an upgrade)", outdated))
	} else {
		s.setCondition(ConditionNodesUpToDate, metav1.ConditionTrue, ReasonUpToDate, "every StorageOS node pod runs the current template")
	}

	members := storageosv1.MembersStatus{}
	var nodes []string
	for i := range o.pods {
		p := &o.pods[i]
		if p.Spec.NodeName == "" {
			continue
		}
		nodes = append(nodes, p.Spec.NodeName)
		if kube.PodReady(p) {
			members.Ready = append(members.Ready, p.Spec.NodeName)
		} else {
			members.Unready = append(members.Unready, p.Spec.NodeName)
		}
	}
	counts := nodeCounts(s)
	counts.Nodes, counts.Ready, counts.Unready = int32(len(nodes)), int32(len(members.Ready)), int32(len(members.Unready))
	sort.Strings(nodes)
	sort.Strings(members.Ready)
	sort.Strings(members.Unready)
	if largeCluster(o) {
		// A large cluster: the counts say how many, and only the nodes to look at are named.
		nodes, members.Ready = nil, nil
		members.Unready = firstNames(members.Unready)
	}
	s.cluster.Status.Nodes, s.cluster.Status.Members = nodes, members
}

// largeCluster reports whether the status names only the nodes to look at: more StorageOS nodes than
// NodeListMax, by the larger of what the DaemonSet wants and what the API reported, so that every list of the
// status decides alike, and an upgrade replacing node pods does not swing it from one form to the other.
func largeCluster(o *observation) bool {
	return max(int(o.daemonSet.Status.DesiredNumberScheduled), len(o.api.nodes)) > storageosv1.NodeListMax
}

// nodeCounts is the status' node counts, created on first use; each part of the status fills in its own. A
// status written before nodeCounts existed starts from its nodeHealthStatus, then complete, so that the health
// counts (and the metrics and alerts read from them) hold while the StorageOS API is not asked.
func nodeCounts(s *scope) *storageosv1.NodeCounts {
	if s.cluster.Status.NodeCounts == nil {
		counts, _ := healthCounts(s.cluster.Status.NodeHealthStatus)
		s.cluster.Status.NodeCounts = &counts
	}
	return s.cluster.Status.NodeCounts
}

// healthCounts counts StorageOS nodes by health, and those not well, whom it names in order. A health the API
// may add, or none, counts as unknown, so that online, offline and unknown add up to the nodes the API reported.
func healthCounts(health map[string]storageosv1.NodeHealth) (c storageosv1.NodeCounts, unhealthy []string) {
	for name, h := range health {
		switch h.Health {
		case storageosv1.NodeHealthOnline:
			c.Online++
		case storageosv1.NodeHealthOffline:
			c.Offline++
		default:
			c.Unknown++
		}
		if nodeProblems(h) != "" {
			unhealthy = append(unhealthy, name)
		}
	}
	c.Unhealthy = int32(len(unhealthy))
	sort.Strings(unhealthy)
	return c, unhealthy
}

// firstNames are the first NodeListMax of sorted names.
func firstNames(sorted []string) []string {
	return slices.Clip(sorted[:min(len(sorted), storageosv1.NodeListMax)])
}

// unhealthyNamed is how many unhealthy nodes the NodesHealthy condition names; the rest are counted.
const unhealthyNamed = 10

// podSecurityProblem says which namespace forbids the node pods, by which label, and what to do about it.
func podSecurityProblem(s *scope, level string) string {
	ns := s.cluster.Spec.Namespace
	return fmt.Sprintf("namespace %s enforces the Pod Security level %q (label %s), which rejects the privileged StorageOS node pods; "+
		"the cluster-manager labels only namespaces it creates: label it %s=%s, e.g. kubectl label namespace %s %s=%s --overwrite",
		ns, level, desired.PodSecurityEnforceLabel, desired.PodSecurityEnforceLabel, desired.PodSecurityPrivileged,
		ns, desired.PodSecurityEnforceLabel, desired.PodSecurityPrivileged)
}

// setWorkloadCondition sets an operand's condition from its Deployment or StatefulSet; nil means disabled.
func setWorkloadCondition(s *scope, condition string, w *workloadObservation) {
	switch {
	case w == nil:
		s.setCondition(condition, metav1.ConditionTrue, ReasonDisabled, "disabled in the spec")
	case !w.found:
		s.setCondition(condition, metav1.ConditionFalse, ReasonNotReady, "not created yet")
	case w.ready >= w.want:
		s.setCondition(condition, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("%d/%d %s replicas ready", w.ready, w.want, w.name))
	default:
		s.setCondition(condition, metav1.ConditionFalse, ReasonNotReady, fmt.Sprintf("%d/%d %s replicas ready", w.ready, w.want, w.name))
	}
}

// setAPIStatus reports what the StorageOS API said: node health, or why it could not be asked.
func setAPIStatus(s *scope, api apiObservation) {
	switch {
	case !api.asked:
		s.setCondition(ConditionAPIReady, metav1.ConditionUnknown, ReasonAPIWaiting, "waiting for a ready StorageOS node pod")
	case errors.Is(api.err, storageos.ErrUnauthorized):
		s.setCondition(ConditionAPIReady, metav1.ConditionFalse, ReasonCredentialsInvalid,
			"the StorageOS API rejected the credentials in the secret named by secretRefName")
	case api.err != nil:
		s.setCondition(ConditionAPIReady, metav1.ConditionFalse, ReasonAPIUnreachable, api.err.Error())
	default:
		health := make(map[string]storageosv1.NodeHealth, len(api.nodes))
		for _, n := range api.nodes {
			c := n.Components
			health[n.Name] = storageosv1.NodeHealth{Health: storageosv1.NodeHealthState(n.Health),
				DirectfsInitiator: c.DirectfsInitiator, Director: c.Director, KV: c.KV, KVWrite: c.KVWrite,
				Nats: c.Nats, Presentation: c.Presentation, Rdb: c.Rdb}
		}
		counts := nodeCounts(s)
		fresh, unhealthy := healthCounts(health)
		counts.Online, counts.Offline, counts.Unknown, counts.Unhealthy = fresh.Online, fresh.Offline, fresh.Unknown, fresh.Unhealthy
		problems := make([]string, 0, min(len(unhealthy), unhealthyNamed))
		for _, name := range unhealthy[:min(len(unhealthy), unhealthyNamed)] {
			problems = append(problems, name+": "+nodeProblems(health[name]))
		}
		if largeCluster(s.observed) {
			// A large cluster: the nodes to look at, the first by name; the counts cover the rest.
			named := make(map[string]storageosv1.NodeHealth, min(len(unhealthy), storageosv1.NodeListMax))
			for _, name := range firstNames(unhealthy) {
				named[name] = health[name]
			}
			health = named
		}
		s.cluster.Status.NodeHealthStatus = health
		s.setCondition(ConditionAPIReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("%d StorageOS nodes reported", len(api.nodes)))
		if len(problems) > 0 {
			message := strings.Join(problems, "; ")
			if more := len(unhealthy) - unhealthyNamed; more > 0 {
				message += fmt.Sprintf("; and %d more of %d StorageOS nodes (status.nodeHealthStatus)", more, len(api.nodes))
			}
			s.setCondition(ConditionNodesHealthy, metav1.ConditionFalse, ReasonNodeUnhealthy, message)
		} else {
			s.setCondition(ConditionNodesHealthy, metav1.ConditionTrue, ReasonReady,
				"every StorageOS node is online with every component alive")
		}
	}
}

// nodeProblems names what is wrong with a node: not online, or components not alive ("" when healthy). A
// component the API does not report is not counted against the node.
func nodeProblems(h storageosv1.NodeHealth) string {
	var out []string
	switch h.Health {
	case storageosv1.NodeHealthOnline:
	case "": // the API reported none: as unknown as it gets
		out = append(out, string(storageosv1.NodeHealthUnknown))
	default:
		out = append(out, string(h.Health))
	}
	for _, comp := range components(h) {
		if comp.state != "" && comp.state != storageos.ComponentAlive {
			out = append(out, comp.name+" "+comp.state)
		}
	}
	return strings.Join(out, ", ")
}

// componentState is one component of a StorageOS node, named as nodeHealthStatus names it.
type componentState struct{ name, state string }

// components are a node's components and their states ("" when the API did not report one).
func components(h storageosv1.NodeHealth) []componentState {
	return []componentState{
		{"directfsInitiator", h.DirectfsInitiator}, {"director", h.Director}, {"kv", h.KV}, {"kvWrite", h.KVWrite},
		{"nats", h.Nats}, {"presentation", h.Presentation}, {"rdb", h.Rdb},
	}
}

// setSpecStatus reports what the spec resolves to: the images deployed (after RELATED_IMAGE_* and built-in
// defaults) and the original operator's fields that have no effect on a v2 cluster.
func setSpecStatus(s *scope) {
	if s.input.Cluster != nil {
		s.cluster.Status.Images = s.input.Images.Deployed(s.input.Cluster.Spec, s.input.KubeVersion)
	}
	if ignored := desired.IgnoredFields(s.cluster.Spec); len(ignored) > 0 {
		s.setCondition(ConditionFieldsIgnored, metav1.ConditionTrue, ReasonNoEffect, strings.Join(ignored, ", ")+
			" have no effect on StorageOS v2 (settings of the original operator for v1 nodes or Kubernetes before 1.14); they are kept only for compatibility and can be removed")
	} else {
		s.setCondition(ConditionFieldsIgnored, metav1.ConditionFalse, ReasonAsExpected, "every field set in the spec has an effect")
	}
}

// summarise derives Available, Degraded, Progressing and the phase from the operand conditions.
func summarise(s *scope) {
	c := s.cluster
	available := s.isTrue(ConditionNodeReady)
	if available {
		s.setCondition(ConditionAvailable, metav1.ConditionTrue, ReasonReady, "StorageOS node pods are ready")
	} else {
		s.setCondition(ConditionAvailable, metav1.ConditionFalse, ReasonNotReady, "StorageOS node pods are not all ready")
	}
	var degraded []string
	if s.err != nil {
		degraded = append(degraded, s.err.Error())
	}
	// Also while every node pod runs: they were admitted before the label was set, and the next one (a new node,
	// a restart for an upgrade) will not be.
	if o := s.observed; o != nil && o.podSecurity != "" {
		degraded = append(degraded, podSecurityProblem(s, o.podSecurity))
	}
	for _, t := range []string{ConditionAPIReady, ConditionNodesHealthy, ConditionCSIReady, ConditionSchedulerReady} {
		if cond := meta.FindStatusCondition(c.Status.Conditions, t); cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason != ReasonNotReady {
			degraded = append(degraded, t+": "+cond.Message)
		}
	}
	if len(degraded) > 0 {
		s.setCondition(ConditionDegraded, metav1.ConditionTrue, ReasonReconcileFailed, strings.Join(degraded, "; "))
	} else {
		s.setCondition(ConditionDegraded, metav1.ConditionFalse, ReasonAsExpected, "no problem observed")
	}
	allReady := available && s.isTrue(ConditionCSIReady) && s.isTrue(ConditionSchedulerReady)
	switch {
	case s.paused:
		s.setCondition(ConditionProgressing, metav1.ConditionFalse, ReasonPaused, "spec.pause is true: no child object is created, changed or deleted")
	case s.err != nil || !allReady:
		s.setCondition(ConditionProgressing, metav1.ConditionTrue, ReasonApplying, "waiting for every component to be ready")
	default:
		s.setCondition(ConditionProgressing, metav1.ConditionFalse, ReasonReady, "every component is ready")
	}
	switch {
	case s.err != nil:
		c.Status.Phase = storageosv1.ClusterPhasePending
	case available:
		c.Status.Phase = storageosv1.ClusterPhaseRunning
	default:
		c.Status.Phase = storageosv1.ClusterPhaseCreating
	}
}

// blockedBy reports that another StorageOSCluster already runs StorageOS in this Kubernetes cluster.
func (r *Reconciler) blockedBy(s *scope, other *storageosv1.StorageOSCluster) {
	s.blockedBy = other.Namespace + "/" + other.Name
	if s.base.Status.Phase != storageosv1.ClusterPhasePending {
		r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeWarning, EventFailedCreation, "Reconcile",
			"can't create more than one storageos cluster: %s already runs StorageOS in this Kubernetes cluster", s.blockedBy)
	}
}

type clusterEvent struct{ kind, reason, note string }

// readinessEvent is the ChangedStatus event of a status change, or nil. As the original operator, it tells each
// change of the ready count ("2/3 StorageOS nodes are functional"). On a large cluster (more than NodeListMax
// nodes, where the status counts nodes rather than naming them) it tells only when the node pods go from all
// ready to not all ready and back: an upgrade replacing 5,000 node pods is two events, not thousands.
func readinessEvent(before, after *storageosv1.StorageOSClusterStatus, large bool) *clusterEvent {
	if after.Ready == before.Ready || after.Ready == "" {
		return nil
	}
	wasReady := meta.IsStatusConditionTrue(before.Conditions, ConditionNodeReady)
	ready := meta.IsStatusConditionTrue(after.Conditions, ConditionNodeReady)
	switch {
	case large && ready == wasReady:
		return nil
	case ready:
		return &clusterEvent{corev1.EventTypeNormal, EventChangedStatus, after.Ready + " StorageOS nodes are functional. Cluster healthy"}
	default:
		return &clusterEvent{corev1.EventTypeWarning, EventChangedStatus, after.Ready + " StorageOS nodes are functional"}
	}
}

// patchStatus computes the status and writes it in one patch, locked on the object as this reconcile read it;
// only once that write succeeded does it emit the events of the transitions it records (ChangedStatus as
// readinessEvent decides, FieldsIgnored when the ignored fields did). A reconcile that started from a stale cache (a
// retry, a resync racing the last write) is refused with a conflict and emits nothing, so each transition is
// announced once.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope) error {
	setStatus(s)
	c := s.cluster
	var events []clusterEvent
	if e := readinessEvent(&s.base.Status, &c.Status, s.observed != nil && largeCluster(s.observed)); e != nil && !s.deleting {
		events = append(events, *e)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionFieldsIgnored); cond != nil && cond.Status == metav1.ConditionTrue {
		if old := meta.FindStatusCondition(s.base.Status.Conditions, ConditionFieldsIgnored); old == nil || old.Message != cond.Message {
			events = append(events, clusterEvent{corev1.EventTypeWarning, EventFieldsIgnored, cond.Message})
		}
	}
	if err := kube.PatchStatus(ctx, r.Client, names.ClusterManager, s.base, c, client.MergeFromWithOptimisticLock{}); err != nil {
		return kube.IgnoreConflict(err)
	}
	for _, e := range events {
		r.Recorder.Eventf(c, nil, e.kind, e.reason, "Observe", "%s", e.note)
	}
	return nil
}
