package kube

import corev1 "k8s.io/api/core/v1"

// PodStatusOnly is a cache transform that keeps of a pod what the managers read of the pods they watch (node
// pods, job pods, NFS server pods): its metadata, the node it runs on, and its status. The spec (for a node pod,
// three containers with their environment and host mounts) is most of a pod's size and is never read from the
// cache; with a pod per node, these are a manager's largest caches. Managed fields go too, as from everything the
// binaries cache. Cached pods are therefore partial: they are read, never written back.
func PodStatusOnly(in any) (any, error) {
	pod, ok := in.(*corev1.Pod)
	if !ok {
		return in, nil // a tombstone of a deleted pod: it was trimmed when it entered the cache
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{NodeName: pod.Spec.NodeName}
	return pod, nil
}
