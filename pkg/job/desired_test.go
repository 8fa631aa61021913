package job

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// The seed README's cleanup example: "this job will run darkowlzz/cleanup container on the nodes that have label
// node-role.kubernetes.io/worker with value "true", mounting /var/lib and passing the argument
// /var/lib/storageos."
func TestSeedCleanupExampleProducesTheDescribedPodSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "storageos_v1_job.yaml"))
	require.NoError(t, err)
	job := &storageosv1.Job{}
	require.NoError(t, yaml.Unmarshal(data, job))
	job.Namespace = "default"

	ds, err := DaemonSet(job)
	require.NoError(t, err)
	assert.Equal(t, "cleanup-job-daemonset-job", ds.Name)
	assert.Equal(t, corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         "job",
			Image:        "darkowlzz/cleanup:v0.0.2",
			Args:         []string{"/var/lib/storageos"},
			VolumeMounts: []corev1.VolumeMount{{Name: "hostpath", MountPath: "/var/lib"}},
		}},
		Volumes: []corev1.Volume{{Name: "hostpath", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib"}}}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "node-role.kubernetes.io/worker", Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}}}},
		}}},
	}, ds.Spec.Template.Spec)
}

// labelSelector is the original's "k=v[,k=v]" string: its labels go on the pods, but the DaemonSet selects by the
// job's own label only, so two Jobs with the same labelSelector never count each other's pods.
func TestLabelSelector(t *testing.T) {
	cases := []struct {
		name          string
		labelSelector string
		wantPod       map[string]string
		wantErr       bool
	}{
		{"empty: the job label only", "", map[string]string{LabelJob: "cleanup"}, false},
		{"the original's default", "daemonset-job=true", map[string]string{"daemonset-job": "true", LabelJob: "cleanup"}, false},
		{"several pairs with spaces", "app=cleanup, tier = x", map[string]string{"app": "cleanup", "tier": "x", LabelJob: "cleanup"}, false},
		{"prefixed key", "example.com/role=cleaner", map[string]string{"example.com/role": "cleaner", LabelJob: "cleanup"}, false},
		{"the job label cannot be overridden", LabelJob + "=other", map[string]string{LabelJob: "cleanup"}, false},
		{"not key=value", "app", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := &storageosv1.Job{}
			job.Name, job.Spec.LabelSelector = "cleanup", tc.labelSelector
			ds, err := DaemonSet(job)
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "spec.labelSelector")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, map[string]string{LabelJob: "cleanup"}, ds.Spec.Selector.MatchLabels)
			assert.Equal(t, tc.wantPod, ds.Spec.Template.Labels)
		})
	}
}

// A task without hostPath (the upgrade's image pull) gets no host directory, and command replaces the
// image's entrypoint.
func TestJobWithoutHostPathMountsNothing(t *testing.T) {
	job := &storageosv1.Job{Spec: storageosv1.JobSpec{Image: "storageos/node:v2.10.0",
		Command: []string{"/bin/sh", "-c", "echo pulled"}, CompletionWord: "pulled"}}
	job.Name = "pull"
	ds, err := DaemonSet(job)
	require.NoError(t, err)
	spec := ds.Spec.Template.Spec
	assert.Empty(t, spec.Volumes)
	require.Len(t, spec.Containers, 1)
	assert.Empty(t, spec.Containers[0].VolumeMounts)
	assert.Equal(t, []string{"/bin/sh", "-c", "echo pulled"}, spec.Containers[0].Command)
	assert.Nil(t, spec.Affinity, "no nodeSelectorTerms: every node, no empty node affinity (which would match none)")
}
