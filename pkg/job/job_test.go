//go:build !mutation

package job_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/job"
)

func TestDaemonSetIsOwnedByTheJobAndConverged(t *testing.T) {
	ctx := context.Background()
	j := createJob(t, "converge")
	ds := daemonSet(t, j)
	owner := metav1.GetControllerOf(ds)
	require.NotNil(t, owner, "the Job controls its DaemonSet, so deleting the Job deletes it and its pods")
	assert.Equal(t, "Job", owner.Kind)
	assert.Equal(t, j.UID, owner.UID)
	assert.True(t, *owner.BlockOwnerDeletion)

	ds.Spec.Template.Spec.Containers[0].Image = "evil/image:latest"
	require.NoError(t, testEnv.Client.Update(ctx, ds))
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds) == nil &&
			ds.Spec.Template.Spec.Containers[0].Image == "darkowlzz/cleanup:v0.0.2"
	}, timeout, tick, "an edit of the DaemonSet is reverted")
}

func TestCompletesWhenEveryNodePrintedTheWord(t *testing.T) {
	j := createJob(t, "cleanup")
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 3)
	a, b, c := startPod(t, ds, "node-a"), startPod(t, ds, "node-b"), startPod(t, ds, "node-c")
	logs.print(a, "removing /var/lib/storageos")
	logs.print(a, "done")
	logs.print(b, "done")
	logs.print(c, "still working")

	st := eventuallyStatus(t, j, progress(2, 3, false), "two of three nodes done")
	cond := meta.FindStatusCondition(st.Conditions, job.ConditionComplete)
	require.NotNil(t, cond)
	assert.Equal(t, "2/3 nodes done", cond.Message)
	assert.Equal(t, j.Generation, cond.ObservedGeneration)

	logs.print(c, "all done, sleeping") // mid-line, as the seed matched it
	st = eventuallyStatus(t, j, progress(3, 3, true), "every node done")
	assert.True(t, meta.IsStatusConditionTrue(st.Conditions, job.ConditionComplete))
	assert.Len(t, st.CompletedPods, 3)
	require.Eventually(t, func() bool { return hasEvent(t, j, "JobCompleted: Job Completed. Safe to delete.") }, timeout, tick)
	// Announced once, however many reconciles (pod and DaemonSet events, polls) follow the completion.
	time.Sleep(2 * time.Second)
	assert.Equal(t, 1, testEnv.EventCounts(t, j.Namespace, j.Name)["JobCompleted: Job Completed. Safe to delete."])

	// A pod seen done is not read again: at most one read per pod found the word.
	for _, pod := range []*corev1.Pod{a, b, c} {
		assert.LessOrEqual(t, logs.afterWord(pod), 1, pod.Name)
	}
}

// A log read that hangs (a kubelet that takes the request and sends nothing, or one of thousands queued behind
// others) holds back only its own pod: the other pods' words reach the status meanwhile, and the Job completes
// once the read returns.
func TestAHangingLogReadHoldsBackOnlyItsPod(t *testing.T) {
	j := createJob(t, "hanging-read")
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 3)
	slow := startPod(t, ds, "node-a")
	release := logs.hold(slow)
	t.Cleanup(release)
	logs.print(slow, "done")
	require.Eventually(t, func() bool { return logs.heldReads(slow) == 1 }, timeout, tick, "the held pod's log is being read")

	b, c := startPod(t, ds, "node-b"), startPod(t, ds, "node-c")
	logs.print(b, "done")
	logs.print(c, "done")
	eventuallyStatus(t, j, progress(2, 3, false), "the pods read meanwhile are done")

	release()
	eventuallyStatus(t, j, progress(3, 3, true), "the held read finds the word")
	assert.Equal(t, 1, logs.afterWord(slow), "the held pod's log was read once")
}

func TestNodesJoiningAndLeaving(t *testing.T) {
	ctx := context.Background()
	j := createJob(t, "elastic")
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 2)
	a, b := startPod(t, ds, "node-a"), startPod(t, ds, "node-b")
	logs.print(a, "done")
	eventuallyStatus(t, j, progress(1, 2, false), "one of two")

	// A node joins before the job finished: its pod must finish too.
	scheduleOn(t, ds, 3)
	c := startPod(t, ds, "node-c")
	logs.print(b, "done")
	eventuallyStatus(t, j, progress(2, 3, false), "the new node counts")
	logs.print(c, "done")
	eventuallyStatus(t, j, progress(3, 3, true), "all three")

	// Completion is final (make soak found completed Jobs reopened and announced twice): a node going away, or
	// one joining, changes nothing of the result.
	scheduleOn(t, ds, 2)
	require.NoError(t, testEnv.Client.Delete(ctx, c))
	scheduleOn(t, ds, 4)
	startPod(t, ds, "node-d")
	time.Sleep(2 * time.Second) // reconciles of the pod and DaemonSet events, batched a second
	st := eventuallyStatus(t, j, progress(3, 3, true), "still all three")
	assert.Len(t, st.CompletedPods, 3)
	assert.Equal(t, 1, testEnv.EventCounts(t, j.Namespace, j.Name)["JobCompleted: Job Completed. Safe to delete."])
}

// Until the Job completes, a restarted task must print the word again; once it has completed, a restart (or a
// replaced pod) neither reopens it nor announces it again.
func TestRestartedPodMustPrintTheWordAgain(t *testing.T) {
	j := createJob(t, "restart")
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 2)
	pod := startPod(t, ds, "node-a")
	logs.print(pod, "done")
	eventuallyStatus(t, j, progress(1, 2, false), "done once")

	setContainer(t, pod, 1, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	eventuallyStatus(t, j, progress(0, 2, false), "a restart undoes it")
	logs.print(pod, "done")
	eventuallyStatus(t, j, progress(1, 2, false), "until the new container prints the word")

	other := startPod(t, ds, "node-b")
	logs.print(other, "done")
	eventuallyStatus(t, j, progress(2, 2, true), "complete")
	setContainer(t, other, 1, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
	time.Sleep(2 * time.Second) // the reconciles of the pod's change, batched a second
	eventuallyStatus(t, j, progress(2, 2, true), "a restart after completion changes nothing")
	require.Eventually(t, func() bool { return hasEvent(t, j, "JobCompleted: Job Completed. Safe to delete.") }, timeout, tick)
	assert.Equal(t, 1, testEnv.EventCounts(t, j.Namespace, j.Name)["JobCompleted: Job Completed. Safe to delete."])
}

func TestFailingPodsAreNamed(t *testing.T) {
	j := createJob(t, "failing")
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 3)
	a, b, c := startPod(t, ds, "node-a"), startPod(t, ds, "node-b"), startPod(t, ds, "node-c")
	logs.print(a, "done")
	setContainer(t, b, 0, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}})
	setContainer(t, c, 3, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}})

	const want = "pods cannot finish on node-b: ImagePullBackOff, node-c: CrashLoopBackOff"
	st := eventuallyStatus(t, j, func(st storageosv1.JobStatus) bool {
		cond := meta.FindStatusCondition(st.Conditions, job.ConditionPodsHealthy)
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Message == want && st.NodesCompleted == 1
	}, "failing pods reported by node, the healthy one done")
	assert.False(t, st.Completed)
}

// The spec cannot change: pods that printed the word ran the old task. A new task is a new Job.
func TestSpecChangeIsRejected(t *testing.T) {
	j := createJob(t, "immutable")
	require.Eventually(t, func() bool {
		fresh := &storageosv1.Job{}
		if testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(j), fresh) != nil {
			return false
		}
		fresh.Spec.Args = []string{"/var/lib/other"}
		err := testEnv.Client.Update(context.Background(), fresh)
		return err != nil && strings.Contains(err.Error(), "a Job's spec is immutable")
	}, timeout, tick)
}

func hasEvent(t testing.TB, j *storageosv1.Job, want string) bool {
	var list corev1.EventList
	require.NoError(t, testEnv.Client.List(context.Background(), &list, client.InNamespace(j.Namespace)))
	for _, e := range list.Items {
		if e.InvolvedObject.Name == j.Name && fmt.Sprintf("%s: %s", e.Reason, e.Message) == want {
			return true
		}
	}
	return false
}

// A DaemonSet of the Job's name that is not the Job's own is never taken over; the Job says why it waits.
func TestForeignDaemonSetIsReportedNotTakenOver(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	labels := map[string]string{"app": "someone-elses"}
	foreign := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "clash-daemonset-job", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	require.NoError(t, testEnv.Client.Create(ctx, foreign))
	j := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "clash", Namespace: ns},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", CompletionWord: "done"}}
	require.NoError(t, testEnv.Client.Create(ctx, j))

	eventuallyStatus(t, j, func(st storageosv1.JobStatus) bool {
		cond := meta.FindStatusCondition(st.Conditions, job.ConditionComplete)
		return cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == job.ReasonDaemonSetFailed &&
			strings.Contains(cond.Message, "clash-daemonset-job")
	}, "the Job names the DaemonSet it cannot apply")
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(foreign), foreign))
	assert.Equal(t, "busybox", foreign.Spec.Template.Spec.Containers[0].Image, "the foreign DaemonSet is untouched")
}

// Two Jobs with the same labelSelector (the original's default, written into the spec by the schema) in one
// namespace: each DaemonSet selects its own pods only, so one Job's pods never count towards the other's progress.
func TestJobsWithTheSameLabelSelectorDoNotShareGroups(t *testing.T) {
	ctx := context.Background()
	first := createJob(t, "first")
	second := &storageosv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "second", Namespace: first.Namespace},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", Args: []string{"/var/lib/storageos"},
			HostPath: "/var/lib", MountPath: "/var/lib", CompletionWord: "done"},
	}
	require.NoError(t, testEnv.Client.Create(ctx, second))
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(second), second))
	assert.Equal(t, "daemonset-job=true", second.Spec.LabelSelector, "the original's default labelSelector")

	firstDS, secondDS := daemonSet(t, first), daemonSet(t, second)
	assert.Equal(t, "true", firstDS.Spec.Template.Labels["daemonset-job"], "labelSelector's labels are on the pods")
	scheduleOn(t, firstDS, 1)
	scheduleOn(t, secondDS, 1)
	logs.print(startPod(t, firstDS, "node-a"), "done")
	startPod(t, secondDS, "node-a")

	eventuallyStatus(t, first, progress(1, 1, true), "the first job is done")
	st := eventuallyStatus(t, second, progress(0, 1, false), "the second job's pod has not printed the word")
	assert.Empty(t, st.CompletedPods, "the first job's pod does not count for the second")
}

// The schema checks labelSelector's syntax with a message that names the field.
func TestLabelSelectorSyntaxIsValidated(t *testing.T) {
	ns := testEnv.CreateNamespace(t)
	for _, bad := range []string{"app", "app=a=b", "=x", "app=cleanup,", "-bad=x", "app=" + strings.Repeat("x", 64)} {
		j := &storageosv1.Job{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "bad-", Namespace: ns},
			Spec:       storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", CompletionWord: "done", LabelSelector: bad},
		}
		err := testEnv.Client.Create(context.Background(), j)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "labelSelector must be key=value pairs", bad)
	}
}

// The seed's sample selects node-role.kubernetes.io/worker=true; on nodes without that label the Job says so,
// with numbers, and kubectl shows 0 and 0 rather than blank columns. A node that gains the label lets it on.
func TestAJobThatSelectsNoNodeSaysWhy(t *testing.T) {
	ctx := context.Background()
	var nodes []*corev1.Node
	for _, name := range []string{"fit-a", "fit-b", "fit-c"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"storageos.com/test": "fit"}}}
		require.NoError(t, testEnv.Client.Create(ctx, n))
		nodes = append(nodes, n)
		t.Cleanup(func() { _ = testEnv.Client.Delete(context.Background(), n) })
	}
	j := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "no-nodes", Namespace: testEnv.CreateNamespace(t)},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", CompletionWord: "done",
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "node-role.kubernetes.io/worker", Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}},
				{Key: "storageos.com/test", Operator: corev1.NodeSelectorOpIn, Values: []string{"fit"}}}}}}}
	require.NoError(t, testEnv.Client.Create(ctx, j))
	scheduleOn(t, daemonSet(t, j), 0)

	var cond *metav1.Condition
	require.Eventually(t, func() bool {
		cond = meta.FindStatusCondition(status(t, j).Conditions, job.ConditionComplete)
		return cond != nil && cond.Reason == job.ReasonNoNodes
	}, timeout, tick, "Complete=False NoMatchingNodes; last %+v", cond)
	// Other tests' nodes may exist; this Job's selector matches none of them either.
	assert.Regexp(t, `^0 of \d+ nodes match nodeSelectorTerms$`, cond.Message)
	out, err := testEnv.Kubectl(ctx, "get", "jobs.storageos.com", "-n", j.Namespace, j.Name)
	require.NoError(t, err)
	assert.Regexp(t, `no-nodes\s+false\s+0\s+0\s+`, out, "columns COMPLETED DONE NODES")

	// A node gains the label: the Job waits for the DaemonSet instead (here nobody plays its controller).
	nodes[0].Labels["node-role.kubernetes.io/worker"] = "true"
	require.NoError(t, testEnv.Client.Update(ctx, nodes[0]))
	require.Eventually(t, func() bool {
		cond = meta.FindStatusCondition(status(t, j).Conditions, job.ConditionComplete)
		return cond != nil && cond.Reason == job.ReasonWaiting
	}, timeout, tick, "Complete=False WaitingForPods; last %+v", cond)
}
