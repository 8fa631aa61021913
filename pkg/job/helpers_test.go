//go:build !mutation

package job_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/job"
)

const (
	timeout = 90 * time.Second
	tick    = 50 * time.Millisecond
)

func createJob(t testing.TB, name string) *storageosv1.Job {
	t.Helper()
	j := &storageosv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testEnv.CreateNamespace(t)},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", Args: []string{"/var/lib/storageos"},
			HostPath: "/var/lib", MountPath: "/var/lib", CompletionWord: "done"},
	}
	require.NoError(t, testEnv.Client.Create(context.Background(), j))
	return j
}

// daemonSet waits for the job's DaemonSet.
func daemonSet(t testing.TB, j *storageosv1.Job) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{}
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(context.Background(), client.ObjectKey{Namespace: j.Namespace, Name: job.DaemonSetName(j)}, ds) == nil
	}, timeout, tick)
	return ds
}

// scheduleOn plays the DaemonSet controller: the DaemonSet should run on n nodes.
func scheduleOn(t testing.TB, ds *appsv1.DaemonSet, n int32) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(ds), ds); err != nil {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: n, CurrentNumberScheduled: n, ObservedGeneration: ds.Generation}
		return testEnv.Client.Status().Update(ctx, ds) == nil
	}, timeout, tick)
}

// startPod plays the DaemonSet controller and the kubelet: the job pod on node runs.
func startPod(t testing.TB, ds *appsv1.DaemonSet, node string) *corev1.Pod {
	t.Helper()
	pod, err := createRunningPod(ds, node)
	require.NoError(t, err)
	return pod
}

// createRunningPod creates the DaemonSet's pod on node, its job container running, as the DaemonSet controller
// and the kubelet would.
func createRunningPod(ds *appsv1.DaemonSet, node string) (*corev1.Pod, error) {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: ds.Name + "-" + node, Namespace: ds.Namespace, Labels: ds.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID,
				Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{NodeName: node, Containers: ds.Spec.Template.Spec.Containers, Volumes: ds.Spec.Template.Spec.Volumes},
	}
	if err := testEnv.Client.Create(ctx, pod); err != nil {
		return nil, err
	}
	return pod, updateContainer(pod, 0, corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}})
}

// setContainer sets the job container's state and restart count.
func setContainer(t testing.TB, pod *corev1.Pod, restarts int32, state corev1.ContainerState) {
	t.Helper()
	require.NoError(t, updateContainer(pod, restarts, state))
}

func updateContainer(pod *corev1.Pod, restarts int32, state corev1.ContainerState) error {
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: job.ContainerName, RestartCount: restarts, State: state,
		Image: pod.Spec.Containers[0].Image}}
	return testEnv.Client.Status().Update(context.Background(), pod)
}

func status(t testing.TB, j *storageosv1.Job) storageosv1.JobStatus {
	t.Helper()
	fresh := &storageosv1.Job{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(j), fresh))
	return fresh.Status
}

func eventuallyStatus(t testing.TB, j *storageosv1.Job, cond func(storageosv1.JobStatus) bool, msg string) storageosv1.JobStatus {
	t.Helper()
	var st storageosv1.JobStatus
	require.Eventually(t, func() bool { st = status(t, j); return cond(st) }, timeout, tick, "%s; last status %+v", msg, st)
	return st
}

func progress(done, total int32, completed bool) func(storageosv1.JobStatus) bool {
	return func(st storageosv1.JobStatus) bool {
		return st.NodesCompleted == done && st.NodesTotal == total && st.Completed == completed
	}
}
