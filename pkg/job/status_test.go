package job

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func testDaemonSet(desired int32, generation, observed int64) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cleanup-daemonset-job", UID: "ds-uid", Generation: generation},
		Status:     appsv1.DaemonSetStatus{DesiredNumberScheduled: desired, ObservedGeneration: observed},
	}
}

// testPod is a pod of the test DaemonSet on node whose job container runs, changed by edits.
func testPod(node string, edits ...func(*corev1.Pod)) corev1.Pod {
	pod := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-" + node, UID: types.UID("uid-" + node),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "cleanup-daemonset-job",
				UID: "ds-uid", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	for _, edit := range edits {
		edit(&pod)
	}
	return pod
}

func restarted(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = n }
}

func waiting(reason string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
	}
}

// doneOn is the record of testPod(node) done with its container started restarts times.
func doneOn(node string, restarts int32) storageosv1.CompletedPod {
	return storageosv1.CompletedPod{Node: node, Pod: "pod-" + node, UID: "uid-" + node, RestartCount: restarts}
}

func TestClassifyPods(t *testing.T) {
	cases := []struct {
		name        string
		pod         corev1.Pod
		status      []storageosv1.CompletedPod // recorded in the job's status
		seen        []storageosv1.CompletedPod // seen done by this process since
		wantDone    []storageosv1.CompletedPod
		wantFailing []string
		wantRead    bool
	}{
		{name: "running, not known done: read its logs", pod: testPod("a"), wantRead: true},
		{name: "recorded done in status, same pod and restart count: not read again",
			pod: testPod("a", restarted(2)), status: []storageosv1.CompletedPod{doneOn("a", 2)}, wantDone: []storageosv1.CompletedPod{doneOn("a", 2)}},
		{name: "seen done before the status shows it: not read again",
			pod: testPod("a"), seen: []storageosv1.CompletedPod{doneOn("a", 0)}, wantDone: []storageosv1.CompletedPod{doneOn("a", 0)}},
		{name: "restarted since it was recorded done: must print the word again",
			pod: testPod("a", restarted(1)), status: []storageosv1.CompletedPod{doneOn("a", 0)}, wantRead: true},
		{name: "another pod on a node recorded done: must print the word again",
			pod: testPod("a", func(p *corev1.Pod) { p.UID = "new-uid" }), status: []storageosv1.CompletedPod{doneOn("a", 0)}, wantRead: true},
		{name: "not yet scheduled: skipped", pod: testPod("")},
		{name: "terminating: skipped, even if recorded done",
			pod: testPod("a", func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) }), status: []storageosv1.CompletedPod{doneOn("a", 0)}},
		{name: "not controlled by this DaemonSet: skipped",
			pod: testPod("a", func(p *corev1.Pod) { p.OwnerReferences[0].UID = "other-ds" })},
		{name: "container not started yet: neither failing nor read", pod: testPod("a", waiting("ContainerCreating"))},
		{name: "image pull failing", pod: testPod("a", waiting("ErrImagePull")), wantFailing: []string{"a: ErrImagePull"}},
		{name: "crash looping", pod: testPod("a", restarted(3), waiting("CrashLoopBackOff")), wantFailing: []string{"a: CrashLoopBackOff"}},
		{name: "pod failed", pod: testPod("a", func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted" }),
			wantFailing: []string{"a: pod failed: Evicted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &storageosv1.Job{Status: storageosv1.JobStatus{CompletedPods: tc.status}}
			got := classifyPods(job, testDaemonSet(1, 1, 1), []corev1.Pod{tc.pod}, tc.seen)
			assert.Equal(t, tc.wantDone, got.done)
			assert.Equal(t, tc.wantFailing, got.failing)
			if tc.wantRead {
				require.Len(t, got.toRead, 1)
				assert.Equal(t, tc.pod.UID, got.toRead[0].UID)
			} else {
				assert.Empty(t, got.toRead)
			}
		})
	}
}

// The record of the pod as it is now wins over the status's older record of the same node.
func TestClassifyPodsSeenWinsOverStatus(t *testing.T) {
	job := &storageosv1.Job{Status: storageosv1.JobStatus{CompletedPods: []storageosv1.CompletedPod{doneOn("a", 0)}}}
	got := classifyPods(job, testDaemonSet(1, 1, 1), []corev1.Pod{testPod("a", restarted(1))},
		[]storageosv1.CompletedPod{doneOn("a", 1)})
	assert.Equal(t, []storageosv1.CompletedPod{doneOn("a", 1)}, got.done)
	assert.Empty(t, got.toRead)
}

func TestSetStatus(t *testing.T) {
	cases := []struct {
		name          string
		ds            *appsv1.DaemonSet
		progress      progress
		fit           *nodeFit
		wantCompleted bool
		wantJust      bool
		wantComplete  metav1.Condition // Type, Status, Reason, Message
		wantHealthy   metav1.Condition
	}{
		{name: "every desired node done at the DaemonSet's current generation: complete",
			ds: testDaemonSet(2, 3, 3), progress: progress{done: []storageosv1.CompletedPod{doneOn("b", 0), doneOn("a", 0)}},
			wantCompleted: true, wantJust: true,
			wantComplete: metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonCompleted, Message: `all 2 nodes printed "done"`}},
		{name: "some nodes done: in progress",
			ds: testDaemonSet(3, 1, 1), progress: progress{done: []storageosv1.CompletedPod{doneOn("a", 0)}},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonInProgress, Message: "1/3 nodes done"}},
		{name: "DaemonSet controller has not seen the current generation: waiting, though every node looks done",
			ds: testDaemonSet(2, 4, 3), progress: progress{done: []storageosv1.CompletedPod{doneOn("a", 0), doneOn("b", 0)}},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonWaiting,
				Message: "waiting for the DaemonSet to schedule pods on the selected nodes"}},
		{name: "no DaemonSet yet (generation 0): waiting, though every node looks done",
			ds: testDaemonSet(2, 0, 0), progress: progress{done: []storageosv1.CompletedPod{doneOn("a", 0), doneOn("b", 0)}},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonWaiting,
				Message: "waiting for the DaemonSet to schedule pods on the selected nodes"}},
		{name: "no node scheduled yet: waiting, not complete",
			ds: testDaemonSet(0, 1, 1),
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonWaiting,
				Message: "waiting for the DaemonSet to schedule pods on the selected nodes"}},
		{name: "no node selected: says so, with numbers",
			ds: testDaemonSet(0, 1, 1), fit: &nodeFit{total: 3},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoNodes, Message: "0 of 3 nodes match nodeSelectorTerms"}},
		{name: "selected nodes all tainted: says which",
			ds: testDaemonSet(0, 1, 1), fit: &nodeFit{total: 3, selected: 1, untolerated: []string{"c (role:NoSchedule)"}},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonNoNodes,
				Message: "1 of 3 nodes match nodeSelectorTerms, and none is tolerated (tolerations): c (role:NoSchedule)"}},
		{name: "some node fits but the DaemonSet schedules none yet: waiting",
			ds: testDaemonSet(0, 1, 1), fit: &nodeFit{total: 3, selected: 2, tolerated: 2},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonWaiting,
				Message: "waiting for the DaemonSet to schedule pods on the selected nodes"}},
		{name: "DaemonSet not observed: waiting, whatever the nodes",
			ds: testDaemonSet(0, 2, 1), fit: &nodeFit{total: 3},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonWaiting,
				Message: "waiting for the DaemonSet to schedule pods on the selected nodes"}},
		{name: "failing pods: named by node, in node order",
			ds: testDaemonSet(3, 1, 1), progress: progress{done: []storageosv1.CompletedPod{doneOn("a", 0)},
				failing: []string{"c: CrashLoopBackOff", "b: ImagePullBackOff"}},
			wantComplete: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonInProgress, Message: "1/3 nodes done"},
			wantHealthy: metav1.Condition{Status: metav1.ConditionFalse, Reason: ReasonPodsFailing,
				Message: "pods cannot finish on b: ImagePullBackOff, c: CrashLoopBackOff"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Generation: 5},
				Spec: storageosv1.JobSpec{CompletionWord: "done"}}
			done := len(tc.progress.done)

			assert.Equal(t, tc.wantJust, setStatus(job, tc.ds, tc.progress, tc.fit), "just completed")

			st := job.Status
			assert.Equal(t, tc.wantCompleted, st.Completed)
			assert.Equal(t, int32(done), st.NodesCompleted)
			assert.Equal(t, tc.ds.Status.DesiredNumberScheduled, st.NodesTotal)
			assert.Equal(t, int64(5), st.ObservedGeneration)
			assert.IsIncreasing(t, nodes(st.CompletedPods), "completed pods in node order")
			assertCondition(t, st.Conditions, ConditionComplete, tc.wantComplete)
			healthy := tc.wantHealthy
			if healthy.Reason == "" {
				healthy = metav1.Condition{Status: metav1.ConditionTrue, Reason: ReasonHealthy, Message: "no job pod is failing"}
			}
			assertCondition(t, st.Conditions, ConditionPodsHealthy, healthy)
		})
	}
}

func nodes(pods []storageosv1.CompletedPod) []string {
	out := make([]string, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.Node)
	}
	return out
}

// assertCondition checks a condition's status, reason and message, and that it describes the job's generation.
func assertCondition(t *testing.T, conditions []metav1.Condition, condType string, want metav1.Condition) {
	t.Helper()
	got := meta.FindStatusCondition(conditions, condType)
	require.NotNil(t, got, condType)
	assert.Equal(t, want.Status, got.Status, condType)
	assert.Equal(t, want.Reason, got.Reason, condType)
	assert.Equal(t, want.Message, got.Message, condType)
	assert.Equal(t, int64(5), got.ObservedGeneration, condType)
}

// A pod the scheduler cannot place (resources, ports) is named with the scheduler's reason; one merely not
// scheduled yet is not.
func TestClassifyPodsNamesUnschedulablePods(t *testing.T) {
	pending := func(reason, message string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: message}}}
		}
	}
	got := classifyPods(&storageosv1.Job{}, testDaemonSet(2, 1, 1), []corev1.Pod{
		testPod("a", pending(corev1.PodReasonUnschedulable, "0/3 nodes are available: 3 Insufficient cpu.")),
		testPod("b", pending("", "")),
	}, nil)
	assert.Equal(t, []string{"pod-a (not scheduled: 0/3 nodes are available: 3 Insufficient cpu.)"}, got.failing)
	assert.Empty(t, got.toRead)
	assert.Empty(t, got.done)
}

// Completion is final (make soak found completed Jobs reopened, then announced a second time): once complete,
// a pod replaced or restarted, a node joining or leaving, change nothing of the status, and nothing is announced.
func TestACompletedJobStaysComplete(t *testing.T) {
	job := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Generation: 5}, Spec: storageosv1.JobSpec{CompletionWord: "done"}}
	require.True(t, setStatus(job, testDaemonSet(2, 3, 3), progress{done: []storageosv1.CompletedPod{doneOn("a", 0), doneOn("b", 0)}}, nil))
	completed := job.Status.DeepCopy()
	for _, tc := range []struct {
		name     string
		ds       *appsv1.DaemonSet
		progress progress
	}{
		{"a done pod replaced or restarted", testDaemonSet(2, 3, 3), progress{done: []storageosv1.CompletedPod{doneOn("a", 0)}}},
		{"a node joined", testDaemonSet(3, 3, 3), progress{done: []storageosv1.CompletedPod{doneOn("a", 0), doneOn("b", 0)}}},
		{"a node left", testDaemonSet(1, 3, 3), progress{done: []storageosv1.CompletedPod{doneOn("a", 0)}}},
		{"a pod failing", testDaemonSet(2, 3, 3), progress{failing: []string{"b: CrashLoopBackOff"}}},
	} {
		assert.False(t, setStatus(job, tc.ds, tc.progress, nil), "%s: not announced again", tc.name)
		assert.Equal(t, completed, &job.Status, tc.name)
	}
}
