package job

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// failingReasons are the container states in which the task will not finish without someone's help.
var failingReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
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
		t := cs.State.Running.StartedAt
		return &t
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
	cs := containerStatus(pod, ContainerName)
	return cs != nil && cs.State.Running != nil
}

// failure says why a pod's task cannot finish, or "" when it may still.
func failure(pod *corev1.Pod) string {
	if pod.Status.Phase == corev1.PodFailed {
		return fmt.Sprintf("pod failed: %s", pod.Status.Reason)
	}
	cs := containerStatus(pod, ContainerName)
	if cs == nil {
		return ""
	}
	if w := cs.State.Waiting; w != nil && failingReasons[w.Reason] {
		return w.Reason
	}
	return ""
}
