package desired

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/pkg/names"
)

// schedulerObjects: a kube-scheduler named storageos-scheduler whose extender asks the StorageOS API where a
// pod's volumes are, so pods land next to their data. Nothing when disableScheduler.
func schedulerObjects(in Input) []client.Object {
	if in.Cluster.Spec.DisableScheduler {
		return nil
	}
	config := &corev1.ConfigMap{
		ObjectMeta: meta(in, OperandScheduler, SchedulerConfigMapName),
		Data:       map[string]string{"config.yaml": SchedulerConfiguration(in)},
	}
	selector := map[string]string{"app": "storageos", "kind": "scheduler"}
	podLabels := Labels(in.Cluster, OperandScheduler)
	for k, v := range selector {
		podLabels[k] = v
	}
	deployment := &appsv1.Deployment{
		ObjectMeta: meta(in, OperandScheduler, names.Scheduler),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: SchedulerSA,
					Containers: []corev1.Container{{
						Name:    "storageos-scheduler",
						Image:   in.Images.KubeScheduler,
						Command: []string{"kube-scheduler", "--config=" + schedulerConfigDir + "/config.yaml", "--v=2"},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "config", MountPath: schedulerConfigDir, ReadOnly: true},
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/healthz", Port: intstr.FromInt32(10259), Scheme: corev1.URISchemeHTTPS}},
							InitialDelaySeconds: 15,
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							RunAsNonRoot:             ptr.To(true),
							RunAsUser:                ptr.To[int64](65532),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: SchedulerConfigMapName}}}}},
					Tolerations: recoveryTolerations(in.Cluster.Spec.Tolerations),
				},
			},
		},
	}
	return []client.Object{config, deployment}
}

// SchedulerConfiguration is the KubeSchedulerConfiguration of the StorageOS scheduler (the legacy Policy API
// the original used was removed in Kubernetes 1.23).
func SchedulerConfiguration(in Input) string {
	ns := namespace(in)
	svc := in.Cluster.Spec.Service
	config := map[string]any{
		"apiVersion": "kubescheduler.config.k8s.io/v1",
		"kind":       "KubeSchedulerConfiguration",
		"leaderElection": map[string]any{
			"leaderElect":       true,
			"resourceLock":      "leases",
			"resourceName":      names.Scheduler,
			"resourceNamespace": ns,
		},
		"profiles": []any{map[string]any{"schedulerName": names.Scheduler}},
		"extenders": []any{map[string]any{
			"urlPrefix":        fmt.Sprintf("http://%s.%s.svc:%d/v2/k8s/scheduler", svc.Name, ns, svc.ExternalPort),
			"filterVerb":       "filter",
			"prioritizeVerb":   "prioritize",
			"weight":           1,
			"enableHTTPS":      false,
			"nodeCacheCapable": false,
			// A StorageOS API outage must not stop scheduling: pods are then placed without data locality.
			"ignorable": true,
		}},
	}
	out, err := yaml.Marshal(config)
	if err != nil {
		panic(err) // a static map of strings, numbers and booleans always marshals
	}
	return string(out)
}
