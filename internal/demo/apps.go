package demo

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// StorageClassName is the StorageOS class the sample cluster creates (the seed's default).
const StorageClassName = "fast"

// StorageOSApp is an application on a StorageOS volume: a claim of the StorageOS class, which the demo's
// provisioner gives a volume as StorageOS's CSI provisioner would, and a Deployment mounting it. Create them in
// this order: the scheduler webhook decides by the claim, and sends no pod whose claim does not exist yet to
// the StorageOS scheduler.
func StorageOSApp(namespace, name string, replicas int32) (*corev1.PersistentVolumeClaim, *appsv1.Deployment) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(StorageClassName),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	d := Deployment(namespace, name, replicas, &corev1.Volume{Name: "data",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	return pvc, d
}

// Deployment is a one-container Deployment, with volume mounted at /data when given.
func Deployment(namespace, name string, replicas int32, volume *corev1.Volume) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
	if volume != nil {
		d.Spec.Template.Spec.Volumes = []corev1.Volume{*volume}
		d.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: volume.Name, MountPath: "/data"}}
	}
	return d
}
