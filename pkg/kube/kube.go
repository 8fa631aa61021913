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
