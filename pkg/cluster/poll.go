package cluster

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// How often a cluster's status is refreshed from the StorageOS API when nothing in Kubernetes changes. While
// anything is not as desired the API is asked every few seconds, so a node going offline or coming back shows in
// the status within seconds; once all is well, twice a minute, so a settled cluster costs the StorageOS API one
// call per 30 s and Kubernetes nothing. A node pod's readiness changing is an event of its own (nodePodReadiness)
// and is reacted to at once, settled or not: a StorageOS node whose process stops takes its pod's readiness.
const (
	defaultSettledPoll   = 30 * time.Second
	defaultUnsettledPoll = 3 * time.Second
)

// A state that stays unsettled (a node offline for days, a cluster left paused) is polled less often as it
// lasts: the unsettled period for its first minute, then twice it, then three times it from its third minute on
// (9 s by default, so a recovery still shows within 10 s), rather than 20 calls a minute forever.
const (
	unsettledBackoffStep = time.Minute
	unsettledBackoffMax  = 3
)

// nextPoll is how long to wait before asking the StorageOS API again, from the status this reconcile computed
// and the time now.
func nextPoll(c *storageosv1.StorageOSCluster, settled, unsettled time.Duration, now time.Time) time.Duration {
	if isSettled(c) {
		return settled
	}
	// How long the cluster has been as it is: since its newest condition transition.
	var last time.Time
	for _, cond := range c.Status.Conditions {
		if cond.LastTransitionTime.After(last) {
			last = cond.LastTransitionTime.Time
		}
	}
	factor := min(1+int64(now.Sub(last)/unsettledBackoffStep), unsettledBackoffMax)
	return time.Duration(max(factor, 1)) * unsettled
}

// isSettled reports whether the cluster has nothing left to follow closely.
func isSettled(c *storageosv1.StorageOSCluster) bool {
	if apiReady := meta.FindStatusCondition(c.Status.Conditions, ConditionAPIReady); apiReady != nil &&
		apiReady.Status == metav1.ConditionFalse && apiReady.Reason == ReasonCredentialsInvalid {
		// Asking again will not help and failed logins may lock the account; new credentials are a Secret
		// change, which is an event of its own.
		return true
	}
	if c.Spec.Pause || c.Status.Phase != storageosv1.ClusterPhaseRunning {
		// Paused: an upgrade is replacing node pods and StorageOS is in maintenance mode.
		return false
	}
	for t, want := range settledConditions {
		if cond := meta.FindStatusCondition(c.Status.Conditions, t); cond == nil || cond.Status != want {
			return false
		}
	}
	return true
}

// settledConditions are the conditions of a cluster with nothing left to follow closely.
var settledConditions = map[string]metav1.ConditionStatus{
	ConditionNodeReady:    metav1.ConditionTrue,
	ConditionAPIReady:     metav1.ConditionTrue,
	ConditionNodesHealthy: metav1.ConditionTrue,
	ConditionProgressing:  metav1.ConditionFalse,
	ConditionDegraded:     metav1.ConditionFalse,
}

// nodePodReadiness passes node pods created, deleted, or whose readiness changed: the moment to ask the
// StorageOS API about its nodes again. Other pod updates (most are the kubelet's status heartbeats of
// containers) are not worth a reconcile.
func nodePodReadiness() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, okBefore := e.ObjectOld.(*corev1.Pod)
			after, okAfter := e.ObjectNew.(*corev1.Pod)
			return !okBefore || !okAfter || kube.PodReady(before) != kube.PodReady(after)
		},
	}
}
