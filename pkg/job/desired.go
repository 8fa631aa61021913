// Package job is the job-manager's controller: a jobs.storageos.com Job runs its task once on every selected
// node through a DaemonSet, and is complete when the pod on every node has printed the completion word.
package job

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

const (
	// ContainerName is the job container's name in every job pod.
	ContainerName = "job"
	// LabelJob is on every job pod, whatever labelSelector says, so the job-manager caches only job pods.
	LabelJob       = "storageos.com/job"
	hostPathVolume = "hostpath"
)

// DaemonSetName is the DaemonSet that runs a Job's task, named as the original operator named it.
func DaemonSetName(job *storageosv1.Job) string { return job.Name + "-daemonset-job" }

// Selector selects a Job's pods by the job's own label, never by labelSelector: two Jobs with the same
// labelSelector must not count each other's pods (the original operator did).
func Selector(job *storageosv1.Job) map[string]string {
	return map[string]string{LabelJob: job.Name}
}

// PodLabels are the labels of a Job's pods: those its labelSelector lists ("key=value[,key=value...]", as the
// original wrote it; the schema checks the syntax), and the job's own.
func PodLabels(job *storageosv1.Job) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(job.Spec.LabelSelector) != "" {
		parsed, err := labels.ConvertSelectorToLabelsMap(job.Spec.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("spec.labelSelector %q: %w", job.Spec.LabelSelector, err)
		}
		out = parsed
	}
	out[LabelJob] = job.Name
	return out, nil
}

// DaemonSet runs the task on every node the Job selects. It is owned by the Job, so Kubernetes' garbage
// collector deletes it, and through it the pods, when the Job is deleted.
func DaemonSet(job *storageosv1.Job) (*appsv1.DaemonSet, error) {
	podLabels, err := PodLabels(job)
	if err != nil {
		return nil, err
	}
	var affinity *corev1.Affinity
	if len(job.Spec.NodeSelectorTerms) > 0 {
		affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: job.Spec.NodeSelectorTerms},
		}}
	}
	container := corev1.Container{
		Name:    ContainerName,
		Image:   string(job.Spec.Image),
		Command: job.Spec.Command,
		Args:    job.Spec.Args,
	}
	var volumes []corev1.Volume
	if job.Spec.HostPath != "" {
		container.VolumeMounts = []corev1.VolumeMount{{Name: hostPathVolume, MountPath: string(job.Spec.MountPath)}}
		volumes = []corev1.Volume{{Name: hostPathVolume, VolumeSource: corev1.VolumeSource{
			HostPath: &corev1.HostPathVolumeSource{Path: string(job.Spec.HostPath)}}}}
	}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      DaemonSetName(job),
			Namespace: job.Namespace,
			Labels:    map[string]string{LabelJob: job.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: storageosv1.GroupVersion.String(), Kind: "Job", Name: job.Name, UID: job.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: Selector(job)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					Containers:  []corev1.Container{container},
					Volumes:     volumes,
					Affinity:    affinity,
					Tolerations: job.Spec.Tolerations,
				},
			},
		},
	}, nil
}
