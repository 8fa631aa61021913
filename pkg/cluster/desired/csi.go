package desired

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// csiObjects: the CSIDriver and the CSI helper (provisioner, attacher, resizer) as a StatefulSet or a
// Deployment per csi.deploymentStrategy. Nothing when CSI is off.
func csiObjects(in Input) []client.Object {
	if !in.Cluster.Spec.CSI.Enable {
		return nil
	}
	driver := &storagev1.CSIDriver{
		ObjectMeta: clusterMeta(in, OperandCSI, names.CSIDriver),
		Spec: storagev1.CSIDriverSpec{
			AttachRequired:       ptr.To(true),
			PodInfoOnMount:       ptr.To(true),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent},
		},
	}
	selector := map[string]string{"app": "storageos", "kind": "csi-helper"}
	podLabels := Labels(in.Cluster, OperandCSI)
	for k, v := range selector {
		podLabels[k] = v
	}
	podLabels["storageos_cr"] = in.Cluster.Name
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
		Spec: corev1.PodSpec{
			ServiceAccountName: csiHelperSA(in.Cluster),
			Containers:         csiHelperContainers(in),
			Volumes:            []corev1.Volume{hostPathVolume("plugin-dir", ResolveCSIPaths(in.Cluster.Spec.CSI).PluginDir, ptr.To(corev1.HostPathDirectoryOrCreate))},
			Affinity:           nodeAffinity(in),
			// The helper may run on any StorageOS node: it talks to the local node through the plugin socket,
			// so it must be able to move off a failed node quickly.
			Tolerations: recoveryTolerations(in.Cluster.Spec.Tolerations),
		},
	}
	labelSelector := &metav1.LabelSelector{MatchLabels: selector}
	if in.Cluster.Spec.CSI.DeploymentStrategy == storageosv1.CSIDeploymentStrategyDeployment {
		return []client.Object{driver, &appsv1.Deployment{
			ObjectMeta: meta(in, OperandCSI, CSIDeploymentName),
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: labelSelector,
				// Two provisioners must never run at once: replace, do not surge.
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
				Template: template,
			},
		}}
	}
	return []client.Object{driver, &appsv1.StatefulSet{
		ObjectMeta: meta(in, OperandCSI, CSIStatefulSetName),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](1),
			Selector:    labelSelector,
			ServiceName: "storageos",
			Template:    template,
		},
	}}
}

func csiHelperContainers(in Input) []corev1.Container {
	container := func(name, image string, args ...string) corev1.Container {
		return corev1.Container{
			Name:            name,
			Image:           image,
			Args:            append([]string{"--v=5", "--csi-address=$(ADDRESS)"}, args...),
			Env:             []corev1.EnvVar{{Name: "ADDRESS", Value: csiAddress}},
			VolumeMounts:    []corev1.VolumeMount{{Name: "plugin-dir", MountPath: "/csi"}},
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}
	}
	containers := []corev1.Container{
		container("csi-external-provisioner", in.Images.CSIExternalProvisioner, "--extra-create-metadata"),
		container("csi-external-attacher", in.Images.CSIExternalAttacher),
	}
	if resizerSupported(in.KubeVersion) {
		containers = append(containers, container("csi-external-resizer", in.Images.CSIExternalResizer))
	}
	return containers
}

// resizerSupported: volume expansion through CSI exists from Kubernetes 1.16.
func resizerSupported(kube *version.Version) bool { return kube.AtLeast(version.MajorMinor(1, 16)) }
