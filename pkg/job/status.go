package job

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// progress is what a job's pods say about it.
type progress struct {
	done    []storageosv1.CompletedPod
	failing []string      // "node: reason"
	toRead  []*corev1.Pod // running and not known done: their logs may hold the word by now
}

// classifyPods sorts the job's pods into done, failing and to read, without reading any log. A node recorded done
// (in status, or seen done since) stays done while its pod is the same one with the same restart count: a
// restarted task must print the word again. Pods not yet scheduled, terminating, or not the DaemonSet's are skipped.
func classifyPods(job *storageosv1.Job, ds *appsv1.DaemonSet, pods []corev1.Pod, seen []storageosv1.CompletedPod) progress {
	// By node and pod: a record of a pod since replaced on its node (a late read of it, say) matches nothing.
	type nodePod struct{ node, uid string }
	recorded := map[nodePod]storageosv1.CompletedPod{}
	for _, p := range slices.Concat(job.Status.CompletedPods, seen) {
		recorded[nodePod{p.Node, p.UID}] = p
	}
	var out progress
	for i := range pods {
		pod := &pods[i]
		if !pod.DeletionTimestamp.IsZero() || !metav1.IsControlledBy(pod, ds) {
			continue
		}
		if pod.Spec.NodeName == "" {
			// Not scheduled yet; the scheduler says why when it cannot (resources, ports, volumes).
			if msg := unschedulable(pod); msg != "" {
				out.failing = append(out.failing, pod.Name+" (not scheduled: "+msg+")")
			}
			continue
		}
		if rec, ok := recorded[nodePod{pod.Spec.NodeName, string(pod.UID)}]; ok && rec.RestartCount == restartCount(pod) {
			out.done = append(out.done, rec)
		} else if reason := failure(pod); reason != "" {
			out.failing = append(out.failing, pod.Spec.NodeName+": "+reason)
		} else if running(pod) {
			out.toRead = append(out.toRead, pod)
		}
	}
	return out
}

// setStatus records progress in the job's status and conditions, and reports whether the job has just completed.
// The job is complete when every node the DaemonSet should run on (desiredNumberScheduled, as of the DaemonSet's
// current generation) has a pod that printed the word.
//
// fit, when the DaemonSet schedules no pod, says why (no node selected, none tolerated); nil when not known.
func setStatus(job *storageosv1.Job, ds *appsv1.DaemonSet, p progress, fit *nodeFit) (justCompleted bool) {
	st := &job.Status
	if st.Completed {
		// Completion is final: what happens to the pods afterwards changes nothing of the result.
		return false
	}
	desired := ds.Status.DesiredNumberScheduled
	observed := ds.Status.ObservedGeneration >= ds.Generation && ds.Generation > 0
	// Sorted, so that the same progress in another order writes the same status.
	slices.SortFunc(p.done, func(a, b storageosv1.CompletedPod) int { return strings.Compare(a.Node, b.Node) })
	slices.Sort(p.failing)
	st.CompletedPods = p.done
	st.NodesCompleted, st.NodesTotal = int32(len(p.done)), desired
	st.Completed = observed && desired > 0 && st.NodesCompleted >= desired
	st.ObservedGeneration = job.Generation

	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		kube.SetCondition(&st.Conditions, job.Generation, typ, status, reason, msg)
	}
	switch {
	case st.Completed:
		set(ConditionComplete, metav1.ConditionTrue, ReasonCompleted, fmt.Sprintf("all %d nodes printed %q", desired, job.Spec.CompletionWord))
	case observed && desired == 0 && fit != nil && fit.reason() != "":
		set(ConditionComplete, metav1.ConditionFalse, ReasonNoNodes, fit.reason())
	case !observed || desired == 0:
		set(ConditionComplete, metav1.ConditionFalse, ReasonWaiting, "waiting for the DaemonSet to schedule pods on the selected nodes")
	default:
		set(ConditionComplete, metav1.ConditionFalse, ReasonInProgress, fmt.Sprintf("%d/%d nodes done", st.NodesCompleted, desired))
	}
	if len(p.failing) > 0 {
		set(ConditionPodsHealthy, metav1.ConditionFalse, ReasonPodsFailing, "pods cannot finish on "+strings.Join(p.failing, ", "))
	} else {
		set(ConditionPodsHealthy, metav1.ConditionTrue, ReasonHealthy, "no job pod is failing")
	}
	return st.Completed
}

func containerStatus(pod *corev1.Pod, container string) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == container {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func containerStartedAt(pod *corev1.Pod, container string) *metav1.Time {
	if cs := containerStatus(pod, container); cs != nil && cs.State.Running != nil {
		return &cs.State.Running.StartedAt
	}
	return nil
}

func restartCount(pod *corev1.Pod) int32 {
	if cs := containerStatus(pod, ContainerName); cs != nil {
		return cs.RestartCount
	}
	return 0
}

// running reports whether the job container is running, so its log can hold the word.
func running(pod *corev1.Pod) bool {
	return containerStartedAt(pod, ContainerName) != nil
}

// unschedulable is the scheduler's reason for not placing a pod, or "" while it has not given up.
func unschedulable(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message
		}
	}
	return ""
}

// failure says why a pod's task cannot finish, or "" when it may still.
func failure(pod *corev1.Pod) string {
	return kube.PodFailure(pod, ContainerName)
}
