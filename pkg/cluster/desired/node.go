package desired

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/storageos/cluster-operator/pkg/names"
)

// nodeDaemonSet runs StorageOS on every selected node. Its update strategy is OnDelete: a spec edit changes the
// template, but running storage pods, which serve volumes to applications, are only replaced on purpose.
func nodeDaemonSet(in Input) *appsv1.DaemonSet {
	volumes, mounts := nodeVolumes(in)
	containers := []corev1.Container{nodeContainer(in, mounts)}
	if in.Cluster.Spec.CSI.Enable {
		paths := ResolveCSIPaths(in.Cluster.Spec.CSI)
		volumes = append(volumes,
			hostPathVolume("registrar-socket-dir", paths.RegistrarSocketDir, ptr.To(corev1.HostPathDirectoryOrCreate)),
			hostPathVolume("kubelet-dir", paths.KubeletDir, ptr.To(corev1.HostPathDirectory)),
			hostPathVolume("plugin-dir", paths.PluginDir, ptr.To(corev1.HostPathDirectoryOrCreate)),
			hostPathVolume("device-dir", paths.DeviceDir, ptr.To(corev1.HostPathDirectory)),
			hostPathVolume("registration-dir", paths.RegistrationDir, ptr.To(corev1.HostPathDirectory)),
		)
		containers[0].VolumeMounts = append(containers[0].VolumeMounts,
			corev1.VolumeMount{Name: "kubelet-dir", MountPath: paths.KubeletDir, MountPropagation: ptr.To(corev1.MountPropagationBidirectional)},
			corev1.VolumeMount{Name: "plugin-dir", MountPath: paths.PluginDir},
			corev1.VolumeMount{Name: "device-dir", MountPath: paths.DeviceDir},
		)
		containers = append(containers, csiNodeSidecars(in, paths)...)
	}

	podLabels := Labels(in.Cluster, OperandNode)
	for k, v := range names.NodePodLabels() {
		podLabels[k] = v
	}
	podLabels["storageos_cr"] = in.Cluster.Name

	return &appsv1.DaemonSet{
		ObjectMeta: meta(in, OperandNode, names.DaemonSet),
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: names.NodePodLabels()},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      podLabels,
					Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "storageos"},
				},
				Spec: corev1.PodSpec{
					ServiceAccountName: DaemonSetSA,
					HostNetwork:        true,
					HostPID:            true,
					DNSPolicy:          corev1.DNSClusterFirstWithHostNet,
					PriorityClassName:  nodePriorityClass(in),
					InitContainers:     []corev1.Container{nodeInitContainer(in)},
					Containers:         containers,
					Volumes:            volumes,
					Affinity:           nodeAffinity(in),
					Tolerations:        append(nodeTolerations(), in.Cluster.Spec.Tolerations...),
				},
			},
		},
	}
}

// nodeVolumes are the node pod's host and config volumes, and the node container's mounts of them.
func nodeVolumes(in Input) ([]corev1.Volume, []corev1.VolumeMount) {
	spec := in.Cluster.Spec
	bidirectional := ptr.To(corev1.MountPropagationBidirectional)
	volumes := []corev1.Volume{
		hostPathVolume("kernel-modules", "/lib/modules", nil),
		hostPathVolume("sys", "/sys", nil),
		hostPathVolume("state", "/var/lib/storageos", ptr.To(corev1.HostPathDirectoryOrCreate)),
		hostPathVolume("fuse", "/dev/fuse", nil),
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: names.NodeConfigMap}}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "fuse", MountPath: "/dev/fuse"},
		{Name: "sys", MountPath: "/sys"},
		{Name: "state", MountPath: "/var/lib/storageos", MountPropagation: bidirectional},
		{Name: "config", MountPath: "/etc/storageos", ReadOnly: true},
	}
	if spec.SharedDir != "" {
		volumes = append(volumes, hostPathVolume("shared", string(spec.SharedDir), ptr.To(corev1.HostPathDirectoryOrCreate)))
		mounts = append(mounts, corev1.VolumeMount{Name: "shared", MountPath: string(spec.SharedDir), MountPropagation: bidirectional})
	}
	if in.EtcdTLSSecret != nil {
		volumes = append(volumes, corev1.Volume{Name: "etcd-certs", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: EtcdTLSSecretName, DefaultMode: ptr.To[int32](0o400)}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "etcd-certs", MountPath: etcdTLSMountPath, ReadOnly: true})
	}
	return volumes, mounts
}

// nodeContainer runs StorageOS itself; its environment comes from the node ConfigMap and the init secret.
func nodeContainer(in Input, mounts []corev1.VolumeMount) corev1.Container {
	spec := in.Cluster.Spec
	return corev1.Container{
		Name:  names.NodeContainer,
		Image: in.Images.Node,
		Args:  []string{"server"},
		Ports: []corev1.ContainerPort{{Name: "api", ContainerPort: spec.Service.InternalPort, Protocol: corev1.ProtocolTCP}},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: names.NodeConfigMap}}}},
		Env: []corev1.EnvVar{
			fieldEnv("HOSTNAME", "spec.nodeName"),
			secretEnv("BOOTSTRAP_USERNAME", InitSecretName, "username"),
			secretEnv("BOOTSTRAP_PASSWORD", InitSecretName, "password"),
			fieldEnv("ADVERTISE_IP", "status.podIP"),
		},
		SecurityContext: privileged(),
		VolumeMounts:    mounts,
		Resources:       spec.Resources,
	}
}

// csiNodeSidecars register the CSI driver with the kubelet and report its liveness.
func csiNodeSidecars(in Input, paths CSIPaths) []corev1.Container {
	return []corev1.Container{
		{
			Name:  "csi-driver-registrar",
			Image: in.Images.CSINodeDriverRegistrar,
			Args: []string{"--v=5", "--csi-address=$(ADDRESS)",
				"--kubelet-registration-path=" + paths.KubeletRegistrationPath},
			Env: []corev1.EnvVar{
				{Name: "ADDRESS", Value: csiAddress},
				fieldEnv("KUBE_NODE_NAME", "spec.nodeName"),
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "plugin-dir", MountPath: "/csi"},
				{Name: "registrar-socket-dir", MountPath: "/var/lib/csi/sockets/"},
				{Name: "registration-dir", MountPath: "/registration"},
			},
		},
		{
			Name:         "csi-liveness-probe",
			Image:        in.Images.CSILivenessProbe,
			Args:         []string{"--csi-address=$(ADDRESS)", "--connection-timeout=3s"},
			Env:          []corev1.EnvVar{{Name: "ADDRESS", Value: csiAddress}},
			VolumeMounts: []corev1.VolumeMount{{Name: "plugin-dir", MountPath: "/csi"}},
		},
	}
}

// nodeInitContainer prepares the node (kernel modules, state directory) before StorageOS starts.
func nodeInitContainer(in Input) corev1.Container {
	bidirectional := ptr.To(corev1.MountPropagationBidirectional)
	return corev1.Container{
		Name:  "storageos-init",
		Image: in.Images.Init,
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: names.NodeConfigMap}}}},
		Env: []corev1.EnvVar{
			{Name: "DAEMONSET_NAME", Value: names.DaemonSet},
			{Name: "DAEMONSET_NAMESPACE", Value: namespace(in)},
		},
		SecurityContext: privileged(),
		VolumeMounts: []corev1.VolumeMount{
			{Name: "kernel-modules", MountPath: "/lib/modules", ReadOnly: true},
			{Name: "sys", MountPath: "/sys", MountPropagation: bidirectional},
			{Name: "state", MountPath: "/var/lib/storageos", MountPropagation: bidirectional},
		},
	}
}

// nodePriorityClass keeps storage pods from being evicted before the applications that use them; Kubernetes
// allows system-node-critical only in kube-system.
func nodePriorityClass(in Input) string {
	if namespace(in) == metav1.NamespaceSystem {
		return "system-node-critical"
	}
	return ""
}

// nodeTolerations keep StorageOS running through node conditions, as the applications' volumes depend on it.
func nodeTolerations() []corev1.Toleration {
	var out []corev1.Toleration
	for _, key := range []string{"disk-pressure", "memory-pressure", "network-unavailable", "not-ready",
		"pid-pressure", "unreachable", "unschedulable"} {
		out = append(out, corev1.Toleration{Key: "node.kubernetes.io/" + key, Operator: corev1.TolerationOpExists})
	}
	return out
}

// recoveryTolerations let a single-replica helper (CSI, scheduler) move off a failed node after 30 s instead of
// the default 5 minutes.
func recoveryTolerations(extra []corev1.Toleration) []corev1.Toleration {
	return append([]corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](30)},
	}, extra...)
}

func nodeAffinity(in Input) *corev1.Affinity {
	terms := in.Cluster.Spec.NodeSelectorTerms
	if len(terms) == 0 {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
}

func privileged() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:               ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(true),
		Capabilities:             &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}},
	}
}

func hostPathVolume(name, path string, typ *corev1.HostPathType) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: typ}}}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}
