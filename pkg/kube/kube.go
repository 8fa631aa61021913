// Package kube holds the small Kubernetes conventions the four managers share, so that each is done one way:
// reading pod readiness and replica counts, stamping conditions, writing status, adding and removing
// finalizers, and caching a single Secret.
package kube

import (
	corev1 "k8s.io/api/core/v1"
)

// PodReady reports whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Replicas is a Deployment's or StatefulSet's desired replica count: unset means 1, as the API server defaults it.
func Replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// failingReasons are the container states in which a container will not run without someone's help.
var failingReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "CrashLoopBackOff": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// PodFailure says why a pod's container cannot run without someone's help (the pod failed, its image cannot be
// pulled, it crashes in a loop), or "" when it may still.
func PodFailure(pod *corev1.Pod, container string) string {
	if pod.Status.Phase == corev1.PodFailed {
		return "pod failed: " + pod.Status.Reason
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container && cs.State.Waiting != nil && failingReasons[cs.State.Waiting.Reason] {
			return cs.State.Waiting.Reason
		}
	}
	return ""
}
