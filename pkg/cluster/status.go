package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// observe reads the state of the deployment into the status: node pods from the DaemonSet and its pods, the
// CSI helper and scheduler from their workloads, node health from the StorageOS API. While the cluster is
// Running it also pushes telemetry and log level to the StorageOS API.
func (r *Reconciler) observe(ctx context.Context, s *scope) error {
	c := s.cluster
	ns := string(c.Spec.Namespace)

	ds := &appsv1.DaemonSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: names.DaemonSet}, ds); client.IgnoreNotFound(err) != nil {
		return err
	}
	want, ready := ds.Status.DesiredNumberScheduled, ds.Status.NumberReady
	c.Status.Ready = fmt.Sprintf("%d/%d", ready, want)
	switch {
	case want == 0:
		s.setCondition(ConditionNodeReady, metav1.ConditionFalse, ReasonNoNodes,
			"no node is eligible for StorageOS: check nodeSelectorTerms and tolerations")
	case ready == want:
		s.setCondition(ConditionNodeReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("%d/%d StorageOS node pods ready", ready, want))
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

	if err := r.observeMembers(ctx, s); err != nil {
		return err
	}
	if err := r.observeWorkload(ctx, s, ConditionCSIReady, !c.Spec.CSI.Enable, csiWorkload(c)); err != nil {
		return err
	}
	if err := r.observeWorkload(ctx, s, ConditionSchedulerReady, c.Spec.DisableScheduler,
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.Scheduler}}); err != nil {
		return err
	}
	r.observeAPI(ctx, s, ready > 0, want > 0 && ready == want)
	return nil
}

func csiWorkload(c *storageosv1.StorageOSCluster) client.Object {
	ns := string(c.Spec.Namespace)
	if c.Spec.CSI.DeploymentStrategy == storageosv1.CSIDeploymentStrategyDeployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: desired.CSIDeploymentName}}
	}
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: desired.CSIStatefulSetName}}
}

// observeMembers lists the node pods: which nodes run StorageOS and which of them are ready.
func (r *Reconciler) observeMembers(ctx context.Context, s *scope) error {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(string(s.cluster.Spec.Namespace)),
		client.MatchingLabels(names.NodePodLabels()), client.MatchingLabels{names.LabelInstance: s.cluster.Name}); err != nil {
		return err
	}
	members := storageosv1.MembersStatus{}
	var nodes []string
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			continue
		}
		nodes = append(nodes, p.Spec.NodeName)
		if podReady(&p) {
			members.Ready = append(members.Ready, p.Spec.NodeName)
		} else {
			members.Unready = append(members.Unready, p.Spec.NodeName)
		}
	}
	sort.Strings(nodes)
	sort.Strings(members.Ready)
	sort.Strings(members.Unready)
	s.cluster.Status.Nodes, s.cluster.Status.Members = nodes, members
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// observeWorkload sets an operand's condition from its Deployment or StatefulSet.
func (r *Reconciler) observeWorkload(ctx context.Context, s *scope, condition string, disabled bool, obj client.Object) error {
	if disabled {
		s.setCondition(condition, metav1.ConditionTrue, ReasonDisabled, "disabled in the spec")
		return nil
	}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		s.setCondition(condition, metav1.ConditionFalse, ReasonNotReady, "not created yet")
		return nil
	}
	if err != nil {
		return err
	}
	var ready, want int32
	switch w := obj.(type) {
	case *appsv1.Deployment:
		ready, want = w.Status.ReadyReplicas, ptrValue(w.Spec.Replicas)
	case *appsv1.StatefulSet:
		ready, want = w.Status.ReadyReplicas, ptrValue(w.Spec.Replicas)
	}
	msg := fmt.Sprintf("%d/%d %s replicas ready", ready, want, obj.GetName())
	if ready >= want {
		s.setCondition(condition, metav1.ConditionTrue, ReasonReady, msg)
	} else {
		s.setCondition(condition, metav1.ConditionFalse, ReasonNotReady, msg)
	}
	return nil
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// observeAPI reads node health from the StorageOS API once a node pod is ready, and pushes telemetry and log
// level once the cluster is Running. Failures are reported in APIReady and never lead to deleting or rolling
// anything.
func (r *Reconciler) observeAPI(ctx context.Context, s *scope, reachable, running bool) {
	if !reachable {
		s.setCondition(ConditionAPIReady, metav1.ConditionUnknown, ReasonAPIWaiting, "waiting for a ready StorageOS node pod")
		return
	}
	api := r.apis.Connect(s.cluster, storageos.CredentialsFromSecret(s.input.APISecret))
	// One bound for all the calls, so an unresponsive API cannot hold the single worker for long.
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	nodes, err := api.ListNodes(ctx)
	if err == nil && running && !s.paused {
		err = r.pushClusterConfig(ctx, s, api)
	}
	switch {
	case errors.Is(err, storageos.ErrUnauthorized):
		s.setCondition(ConditionAPIReady, metav1.ConditionFalse, ReasonCredentialsInvalid,
			"the StorageOS API rejected the credentials in the secret named by secretRefName")
		return
	case err != nil:
		s.setCondition(ConditionAPIReady, metav1.ConditionFalse, ReasonAPIUnreachable, err.Error())
		return
	}
	health := map[string]storageosv1.NodeHealth{}
	for _, n := range nodes {
		health[n.Name] = storageosv1.NodeHealth{Health: storageosv1.NodeHealthState(n.Health)}
	}
	s.cluster.Status.NodeHealthStatus = health
	s.setCondition(ConditionAPIReady, metav1.ConditionTrue, ReasonReady, fmt.Sprintf("%d StorageOS nodes reported", len(nodes)))
}

// pushClusterConfig makes the StorageOS cluster's telemetry and log level match disableTelemetry and debug.
func (r *Reconciler) pushClusterConfig(ctx context.Context, s *scope, api storageos.API) error {
	current, err := api.GetCluster(ctx)
	if err != nil {
		return err
	}
	wantLevel := "info"
	if s.cluster.Spec.Debug {
		wantLevel = "debug"
	}
	off := s.cluster.Spec.DisableTelemetry
	if current.DisableTelemetry == off && current.DisableCrashReporting == off && current.DisableVersionCheck == off &&
		current.LogLevel == wantLevel {
		return nil
	}
	update := *current
	update.DisableTelemetry, update.DisableCrashReporting, update.DisableVersionCheck = off, off, off
	update.LogLevel = wantLevel
	_, err = api.UpdateCluster(ctx, update)
	return err
}

// blockedBy reports that another StorageOSCluster already runs StorageOS in this Kubernetes cluster.
func (r *Reconciler) blockedBy(s *scope, other *storageosv1.StorageOSCluster) {
	s.blockedBy = other.Namespace + "/" + other.Name
	if s.base.Status.Phase != storageosv1.ClusterPhasePending {
		r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeWarning, "FailedCreation", "Reconcile",
			"can't create more than one storageos cluster: %s already runs StorageOS in this Kubernetes cluster", s.blockedBy)
	}
}

// patchStatus derives the summary conditions and the phase, emits ChangedStatus when readiness changed, and
// writes the status in one patch, only when it changed.
func (r *Reconciler) patchStatus(ctx context.Context, s *scope) error {
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
		r.summarise(s)
	}
	if !s.deleting && s.blockedBy == "" && s.err == nil {
		c.Status.ObservedGeneration = c.Generation
	}
	if c.Status.Ready != s.base.Status.Ready && c.Status.Ready != "" && !s.deleting {
		r.changedStatusEvent(s)
	}
	if equality.Semantic.DeepEqual(s.base.Status, c.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, c, client.MergeFrom(s.base))
}

func (r *Reconciler) summarise(s *scope) {
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
	for _, t := range []string{ConditionAPIReady, ConditionCSIReady, ConditionSchedulerReady} {
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

func (r *Reconciler) changedStatusEvent(s *scope) {
	cond := meta.FindStatusCondition(s.cluster.Status.Conditions, ConditionNodeReady)
	if cond != nil && cond.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeNormal, "ChangedStatus", "Observe",
			"%s StorageOS nodes are functional. Cluster healthy", s.cluster.Status.Ready)
		return
	}
	r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeWarning, "ChangedStatus", "Observe",
		"%s StorageOS nodes are functional", s.cluster.Status.Ready)
}

// apiTimeout bounds the StorageOS API calls of one reconcile.
const apiTimeout = 15 * time.Second
