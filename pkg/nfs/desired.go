// Package nfs is the cluster-manager's NFSServer controller: for every NFSServer it runs an NFS-Ganesha server
// (a one-replica StatefulSet, its Services and configuration, and the claim it exports when the spec names
// none), keeps them converged with the spec, reports where clients mount it, and cleans up on delete.
package nfs

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

// Ports, names and labels of a server, as the original operator had them.
const (
	NFSPort          = 2049
	NFSPortName      = "nfs"
	MetricsPort      = 80
	MetricsPortName  = "metrics"
	HealthPath       = "/healthz"
	ContainerName    = "nfsd"
	component        = "nfs-server"
	configVolume     = "nfs-config"
	dataVolume       = "nfs-data"
	defaultCapacity  = "1Gi"
	saPrefix         = "storageos-nfs-"
	sccBindingPrefix = "storageos:openshift-scc-nfs-"

	// LabelServer is on every object of a server and selects its pod.
	LabelServer     = "nfsserver"
	labelServiceFor = "app.kubernetes.io/service-for"
	labelFenced     = "storageos.com/fenced"
	// AnnotationConfigHash on the pod template rolls the pod when the Ganesha configuration or the volume's
	// mount options change, which it reads only at start.
	AnnotationConfigHash = "storageos.com/nfs-config-hash"
)

// Input is everything a server's objects are built from.
type Input struct {
	Server *storageosv1.NFSServer
	// Cluster is the active StorageOSCluster (with the operator's default k8sDistro): the default image and
	// class, node placement, fencing and distro.
	Cluster *storageosv1.StorageOSCluster
	// Getenv looks up RELATED_IMAGE_NFS.
	Getenv func(string) string
	// ServiceMonitors is whether the monitoring.coreos.com ServiceMonitor kind is served.
	ServiceMonitors bool
}

// Image is the server's image: the NFSServer's, else the cluster's images.nfsContainer, else RELATED_IMAGE_NFS,
// else the built-in default.
func Image(in Input) string {
	if in.Server.Spec.NFSContainer != "" {
		return string(in.Server.Spec.NFSContainer)
	}
	return desired.ResolveImage(in.Cluster.Spec.Images.NFSContainer, desired.EnvNFSImage, desired.DefaultNFSImage, in.Getenv)
}

// StorageClassName is the class of the claim the operator creates: the NFSServer's, else the cluster's.
func StorageClassName(nfs *storageosv1.NFSServer, cluster *storageosv1.StorageOSCluster) string {
	if nfs.Spec.StorageClassName != "" {
		return nfs.Spec.StorageClassName
	}
	return string(cluster.Spec.StorageClassName)
}

// Capacity is the size of the exported volume: resources.requests.storage, default 1Gi.
func Capacity(nfs *storageosv1.NFSServer) resource.Quantity {
	if q, ok := nfs.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		return q.Quantity
	}
	return resource.MustParse(defaultCapacity)
}

// OwnsClaim is whether the operator creates (and may delete) the server's claim: the spec names none.
func OwnsClaim(nfs *storageosv1.NFSServer) bool {
	return nfs.Spec.PersistentVolumeClaim.ClaimName == ""
}

// ClaimName is the claim the server mounts and exports.
func ClaimName(nfs *storageosv1.NFSServer) string {
	if OwnsClaim(nfs) {
		return nfs.Name
	}
	return nfs.Spec.PersistentVolumeClaim.ClaimName
}

// ServiceAccountName is the server pod's ServiceAccount. It and the other names are the original's; the
// StatefulSet, Service, ConfigMap and own claim are named after the server.
func ServiceAccountName(nfs *storageosv1.NFSServer) string { return saPrefix + nfs.Name }

// MetricsServiceName is the Service of the server's metrics port.
func MetricsServiceName(nfs *storageosv1.NFSServer) string { return nfs.Name + "-" + MetricsPortName }

// SCCBindingName is the RoleBinding of the server's ServiceAccount to the OpenShift SCC role.
func SCCBindingName(nfs *storageosv1.NFSServer) string { return sccBindingPrefix + nfs.Name }

// PodSelector selects a server's pod. A StatefulSet's selector is immutable, so it never changes.
func PodSelector(nfs *storageosv1.NFSServer) map[string]string {
	return map[string]string{names.LabelApp: "storageos", LabelServer: nfs.Name}
}

// Labels are on every object of a server: the original operator's.
func Labels(in Input) map[string]string {
	return map[string]string{
		names.LabelApp:       "storageos",
		names.LabelName:      "storageos",
		names.LabelInstance:  in.Cluster.Name,
		names.LabelPartOf:    "storageos",
		names.LabelComponent: component,
		LabelServer:          in.Server.Name,
	}
}

// ClaimLabels are the labels of the claim the operator creates: the NFSServer's own (StorageOS puts volume
// settings such as storageos.com/replicas there, which it reads from the claim), then the server's. They go on
// the claim only: on the pod template a label edit would restart the server.
func ClaimLabels(in Input) map[string]string {
	out := map[string]string{}
	for k, v := range in.Server.Labels {
		// The key that says who an object belongs to is the operator's to set: a claim must not pass for one
		// of the cluster's own objects (which the cluster-manager prunes by it).
		if k == names.LabelClusterNamespace || k == names.LabelManagedBy {
			continue
		}
		out[k] = v
	}
	maps.Copy(out, Labels(in))
	return out
}

func objectMeta(in Input, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: in.Server.Namespace, Labels: Labels(in),
		OwnerReferences: []metav1.OwnerReference{ownerReference(in.Server)}}
}

func ownerReference(nfs *storageosv1.NFSServer) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: storageosv1.GroupVersion.String(), Kind: "NFSServer", Name: nfs.Name,
		UID: nfs.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// Objects are every object of a server, in the order they are applied: what the pod needs before the pod. They
// are owned by the NFSServer, so Kubernetes deletes them with it, except the claim the operator creates: its
// reclaim policy decides.
func Objects(in Input) []client.Object {
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: objectMeta(in, ServiceAccountName(in.Server))},
		service(in, in.Server.Name, NFSPortName, NFSPort, "nfs-server"),
		service(in, MetricsServiceName(in.Server), MetricsPortName, MetricsPort, "nfs-metrics"),
		configMap(in),
	}
	if desired.IsOpenShift(in.Cluster) {
		objs = append(objs, sccBinding(in))
	}
	if OwnsClaim(in.Server) {
		objs = append(objs, claim(in))
	}
	objs = append(objs, statefulSet(in))
	if in.ServiceMonitors {
		objs = append(objs, serviceMonitor(in))
	}
	return objs
}

func service(in Input, name, portName string, port int32, serviceFor string) *corev1.Service {
	m := objectMeta(in, name)
	m.Labels[labelServiceFor] = serviceFor
	return &corev1.Service{
		ObjectMeta: m,
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: PodSelector(in.Server),
			Ports: []corev1.ServicePort{{Name: portName, Port: port, TargetPort: intstr.FromInt32(port),
				Protocol: corev1.ProtocolTCP}},
		},
	}
}

func configMap(in Input) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: objectMeta(in, in.Server.Name),
		Data:       map[string]string{in.Server.Name: GaneshaConfig(ExportOf(in.Server))},
	}
}

func claim(in Input) *corev1.PersistentVolumeClaim {
	m := objectMeta(in, in.Server.Name)
	m.OwnerReferences, m.Labels = nil, ClaimLabels(in)
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: m,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: ptr.To(StorageClassName(in.Server, in.Cluster)),
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: Capacity(in.Server)},
			},
		},
	}
}

// VolumeSettings is what the NFSServer sets on the PersistentVolume bound to the claim the operator created,
// applied on its own (nil when there is nothing to set): the reclaim policy and mount options.
func VolumeSettings(nfs *storageosv1.NFSServer, volumeName string) *unstructured.Unstructured {
	spec := map[string]any{}
	if p := nfs.Spec.PersistentVolumeReclaimPolicy; p != "" {
		spec["persistentVolumeReclaimPolicy"] = string(p)
	}
	if len(nfs.Spec.MountOptions) > 0 {
		opts := make([]any, len(nfs.Spec.MountOptions))
		for i, o := range nfs.Spec.MountOptions {
			opts[i] = o
		}
		spec["mountOptions"] = opts
	}
	if len(spec) == 0 || volumeName == "" {
		return nil
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": volumeName},
		"spec":     spec,
	}}
}

// sccBinding lets the server's pod use the cluster's OpenShift SCC role, in the server's namespace only. It is
// owned by the server, so it goes with it.
func sccBinding(in Input) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: objectMeta(in, SCCBindingName(in.Server)),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: desired.OpenShiftSCCRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccountName(in.Server),
			Namespace: in.Server.Namespace}},
	}
}

// capabilities are what NFS-Ganesha needs and nothing more: it serves files as their owners (CHOWN, FOWNER,
// FSETID, SETUID, SETGID, DAC_OVERRIDE), opens them by handle (DAC_READ_SEARCH, SYS_ADMIN, as the original
// granted) and listens on port 80 for health and metrics (NET_BIND_SERVICE). Everything else is dropped.
var capabilities = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID",
	"NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_ADMIN"}

func statefulSet(in Input) *appsv1.StatefulSet {
	nfs := in.Server
	// The pod reads the configuration, and mounts the volume with its mount options, only when it starts.
	sum := sha256.Sum256([]byte(GaneshaConfig(ExportOf(nfs)) + "\n" + strings.Join(nfs.Spec.MountOptions, ",")))
	podLabels := Labels(in)
	if !in.Cluster.Spec.DisableFencing {
		// StorageOS fences the pod (deletes it from a failed node so it can start elsewhere) by this label.
		podLabels[labelFenced] = "true"
	}
	annotations := maps.Clone(nfs.Spec.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationConfigHash] = hex.EncodeToString(sum[:8])

	var affinity *corev1.Affinity
	if terms := in.Cluster.Spec.NodeSelectorTerms; len(terms) > 0 {
		affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
	container := corev1.Container{
		Name:            ContainerName,
		Image:           Image(in),
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env: []corev1.EnvVar{
			{Name: "GANESHA_CONFIGFILE", Value: "/config/" + nfs.Name},
			{Name: "NAME", Value: nfs.Name},
			{Name: "NAMESPACE", Value: nfs.Namespace},
		},
		Ports: []corev1.ContainerPort{
			{Name: "nfs-port", ContainerPort: NFSPort, Protocol: corev1.ProtocolTCP},
			{Name: "http-port", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: configVolume, MountPath: "/config"},
			{Name: dataVolume, MountPath: "/export"},
		},
		SecurityContext: &corev1.SecurityContext{
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: capabilities},
		},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: HealthPath, Port: intstr.FromInt32(MetricsPort)},
		}},
	}
	return &appsv1.StatefulSet{
		ObjectMeta: objectMeta(in, nfs.Name),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](1),
			ServiceName: nfs.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: PodSelector(nfs)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
				Spec: corev1.PodSpec{
					ServiceAccountName: ServiceAccountName(nfs),
					Containers:         []corev1.Container{container},
					Volumes: []corev1.Volume{
						{Name: configVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: nfs.Name}}}},
						{Name: dataVolume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
							ClaimName: ClaimName(nfs), ReadOnly: nfs.Spec.PersistentVolumeClaim.ReadOnly}}},
					},
					Affinity:    affinity,
					Tolerations: nfs.Spec.Tolerations,
				},
			},
		},
	}
}

// serviceMonitorAPIVersion is the Prometheus operator's API; a server gets a ServiceMonitor only where it is
// served.
const serviceMonitorAPIVersion = "monitoring.coreos.com/v1"

func serviceMonitor(in Input) *unstructured.Unstructured {
	m := objectMeta(in, MetricsServiceName(in.Server))
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(serviceMonitorAPIVersion)
	u.SetKind("ServiceMonitor")
	u.SetName(m.Name)
	u.SetNamespace(m.Namespace)
	u.SetLabels(m.Labels)
	u.SetOwnerReferences(m.OwnerReferences)
	u.Object["spec"] = map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{
			LabelServer: in.Server.Name, labelServiceFor: "nfs-metrics",
		}},
		"endpoints": []any{map[string]any{"port": MetricsPortName, "path": "/metrics"}},
	}
	return u
}
