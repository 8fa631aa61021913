//go:build !mutation

package cluster_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

func container(spec corev1.PodSpec, name string) corev1.Container {
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

func hasVolume(spec corev1.PodSpec, name, hostPath string) bool {
	for _, v := range spec.Volumes {
		if v.Name == name && (hostPath == "" || (v.HostPath != nil && v.HostPath.Path == hostPath)) {
			return true
		}
	}
	return false
}

// exists waits until obj exists and check passes on it.
func exists[T client.Object](obj T, check func(T) bool) func(*testing.T, *storageosv1.StorageOSCluster) {
	return func(t *testing.T, c *storageosv1.StorageOSCluster) {
		if obj.GetNamespace() == "-" {
			obj.SetNamespace(string(c.Spec.Namespace))
		}
		eventuallyGet(t, obj, func() bool { return check == nil || check(obj) }, "%T %s", obj, obj.GetName())
	}
}

// absent checks that obj does not exist once the cluster has applied its spec.
func absent[T client.Object](obj T) func(*testing.T, *storageosv1.StorageOSCluster) {
	return func(t *testing.T, c *storageosv1.StorageOSCluster) {
		if obj.GetNamespace() == "-" {
			obj.SetNamespace(string(c.Spec.Namespace))
		}
		// Once the cluster's status says this generation was applied, whatever is absent stays absent.
		fresh := c.DeepCopy()
		eventuallyGet(t, fresh, func() bool {
			return fresh.Status.ObservedGeneration == fresh.Generation && fresh.Status.Phase != ""
		})
		err := testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		assert.True(t, apierrorsIsNotFound(err), "%T %s exists", obj, obj.GetName())
	}
}

// local names an object in the cluster's namespace (filled in when the check runs).
func local[T client.Object](name string, obj T) T {
	obj.SetNamespace("-")
	obj.SetName(name)
	return obj
}

func nodeConfig(check func(map[string]string) bool) func(*testing.T, *storageosv1.StorageOSCluster) {
	return exists(local(names.NodeConfigMap, &corev1.ConfigMap{}), func(cm *corev1.ConfigMap) bool { return check(cm.Data) })
}

func daemonSet(check func(corev1.PodSpec) bool) func(*testing.T, *storageosv1.StorageOSCluster) {
	return exists(local(names.DaemonSet, &appsv1.DaemonSet{}), func(ds *appsv1.DaemonSet) bool { return check(ds.Spec.Template.Spec) })
}

func csiHelper(check func(corev1.PodSpec) bool) func(*testing.T, *storageosv1.StorageOSCluster) {
	return exists(local(desired.CSIStatefulSetName, &appsv1.StatefulSet{}), func(s *appsv1.StatefulSet) bool { return check(s.Spec.Template.Spec) })
}

func withCSI(s *storageosv1.StorageOSClusterSpec) {
	s.CSI.Enable = true
	if s.CSI.DeploymentStrategy == "" {
		s.CSI.DeploymentStrategy = storageosv1.CSIDeploymentStrategyStatefulSet
	}
}

// Every parameter of the seed's table has an effect on what is deployed. (pause, csi.deploymentStrategy,
// ingress.*, debug, disableTelemetry, tolerations and secretRef* have tests of their own elsewhere in the
// package.)
func TestEveryParameterHasAnEffect(t *testing.T) {
	etcdTLS := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "etcd-client", Namespace: secretNS},
		Data: map[string][]byte{"etcd-client.crt": []byte("CRT"), "etcd-client.key": []byte("KEY"), "etcd-client-ca.crt": []byte("CA")}}
	require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(context.Background(), etcdTLS)))

	cases := []struct {
		name  string
		spec  func(*storageosv1.StorageOSClusterSpec)
		env   map[string]string
		check func(*testing.T, *storageosv1.StorageOSCluster)
	}{
		{"images.nodeContainer", func(s *storageosv1.StorageOSClusterSpec) { s.Images.NodeContainer = "example.com/node:v9" }, nil,
			daemonSet(func(p corev1.PodSpec) bool { return container(p, "storageos").Image == "example.com/node:v9" })},
		{"images.initContainer", func(s *storageosv1.StorageOSClusterSpec) { s.Images.InitContainer = "example.com/init:v9" }, nil,
			daemonSet(func(p corev1.PodSpec) bool { return container(p, "storageos-init").Image == "example.com/init:v9" })},
		{"images.csiNodeDriverRegistrarContainer", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Images.CSINodeDriverRegistrarContainer = "example.com/registrar:v9"
		}, nil, daemonSet(func(p corev1.PodSpec) bool {
			return container(p, "csi-driver-registrar").Image == "example.com/registrar:v9"
		})},
		{"images.csiLivenessProbeContainer", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Images.CSILivenessProbeContainer = "example.com/liveness:v9"
		}, nil, daemonSet(func(p corev1.PodSpec) bool {
			return container(p, "csi-liveness-probe").Image == "example.com/liveness:v9"
		})},
		{"images.csiExternalProvisionerContainer", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Images.CSIExternalProvisionerContainer = "example.com/provisioner:v9"
		}, nil, csiHelper(func(p corev1.PodSpec) bool {
			return container(p, "csi-external-provisioner").Image == "example.com/provisioner:v9"
		})},
		{"images.csiExternalAttacherContainer", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Images.CSIExternalAttacherContainer = "example.com/attacher:v9"
		}, nil, csiHelper(func(p corev1.PodSpec) bool {
			return container(p, "csi-external-attacher").Image == "example.com/attacher:v9"
		})},
		{"images.csiExternalResizerContainer", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Images.CSIExternalResizerContainer = "example.com/resizer:v9"
		}, nil, csiHelper(func(p corev1.PodSpec) bool {
			return container(p, "csi-external-resizer").Image == "example.com/resizer:v9"
		})},
		{"images.kubeSchedulerContainer", func(s *storageosv1.StorageOSClusterSpec) {
			s.Images.KubeSchedulerContainer = "example.com/scheduler:v9"
		}, nil,
			exists(local(names.Scheduler, &appsv1.Deployment{}), func(d *appsv1.Deployment) bool {
				return container(d.Spec.Template.Spec, "storageos-scheduler").Image == "example.com/scheduler:v9"
			})},
		{"RELATED_IMAGE_KUBE_SCHEDULER when the spec names none", nil, map[string]string{desired.EnvKubeSchedulerImage: "mirror.example.com/kube-scheduler:v1.37.2"},
			exists(local(names.Scheduler, &appsv1.Deployment{}), func(d *appsv1.Deployment) bool {
				return container(d.Spec.Template.Spec, "storageos-scheduler").Image == "mirror.example.com/kube-scheduler:v1.37.2"
			})},
		{"RELATED_IMAGE_STORAGEOS_NODE/INIT when the spec names none, reported in status.images", nil,
			map[string]string{desired.EnvNodeImage: "mirror.example.com/node:v2.1.0", desired.EnvInitImage: "mirror.example.com/init:1.0.0"},
			func(t *testing.T, c *storageosv1.StorageOSCluster) {
				daemonSet(func(p corev1.PodSpec) bool {
					return container(p, "storageos").Image == "mirror.example.com/node:v2.1.0" &&
						p.InitContainers[0].Image == "mirror.example.com/init:1.0.0"
				})(t, c)
				eventuallyGet(t, c, func() bool {
					return c.Status.Images.NodeContainer == "mirror.example.com/node:v2.1.0" &&
						c.Status.Images.InitContainer == "mirror.example.com/init:1.0.0"
				}, "status.images shows the images in use")
				assert.Empty(t, c.Spec.Images.NodeContainer, "no schema default fills the spec")
			}},
		{"csi.kubeletDir and the other csi paths", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.CSI.KubeletDir, s.CSI.DeviceDir, s.CSI.Version = "/var/data/kubelet", "/host/dev", "v1"
		}, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			daemonSet(func(p corev1.PodSpec) bool {
				return hasVolume(p, "kubelet-dir", "/var/data/kubelet") && hasVolume(p, "device-dir", "/host/dev") &&
					hasVolume(p, "registration-dir", "/var/data/kubelet/plugins_registry") &&
					slices.Contains(container(p, "csi-driver-registrar").Args,
						"--kubelet-registration-path=/var/data/kubelet/plugins_registry/storageos/csi.sock")
			})(t, c)
			nodeConfig(func(env map[string]string) bool {
				return env["CSI_ENDPOINT"] == "unix:///var/data/kubelet/plugins_registry/storageos/csi.sock" && env["CSI_VERSION"] == "v1"
			})(t, c)
		}},
		{"csi.endpoint", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.CSI.Endpoint = "unix:///run/storageos/csi.sock"
		}, nil,
			nodeConfig(func(env map[string]string) bool { return env["CSI_ENDPOINT"] == "unix:///run/storageos/csi.sock" })},
		{"join, hyperkubeContainer, driverRegisterationMode: accepted, reported as ignored", func(s *storageosv1.StorageOSClusterSpec) {
			withCSI(s)
			s.Join, s.Images.HyperkubeContainer, s.CSI.DriverRegistrationMode = "10.0.0.1,10.0.0.2", "k8s.gcr.io/hyperkube:v1.17.0", "node-register"
		}, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			cond := eventuallyCondition(t, c, cluster.ConditionFieldsIgnored, metav1.ConditionTrue, cluster.ReasonNoEffect)
			assert.Contains(t, cond.Message, "spec.join, spec.csi.driverRegisterationMode, spec.images.hyperkubeContainer have no effect")
			eventuallyEvent(t, c, "FieldsIgnored")
		}},
		{"kvBackend.address with the embedded backend", func(s *storageosv1.StorageOSClusterSpec) {
			s.KVBackend = storageosv1.StorageOSClusterKVBackend{Backend: storageosv1.KVBackendEmbedded, Address: "10.0.0.1:2379"}
		}, nil, nodeConfig(func(env map[string]string) bool { return env["ETCD_ENDPOINTS"] == "10.0.0.1:2379" })},
		{"scheduler image from the API server's version by default", nil, nil,
			exists(local(names.Scheduler, &appsv1.Deployment{}), func(d *appsv1.Deployment) bool {
				return container(d.Spec.Template.Spec, "storageos-scheduler").Image == "registry.k8s.io/kube-scheduler:v1.37.2"
			})},
		{"csi.enable", withCSI, nil, exists(named(names.CSIDriver, &storagev1.CSIDriver{}), nil)},
		{"csi.enable false", nil, nil, exists(named("fast", &storagev1.StorageClass{}), func(sc *storagev1.StorageClass) bool {
			return sc.Provisioner == names.LegacyProvisioner
		})},
		{"csi.enableProvisionCreds", func(s *storageosv1.StorageOSClusterSpec) { withCSI(s); s.CSI.EnableProvisionCreds = true }, nil,
			credentials(desired.ProvisionCreds, "prov")},
		{"csi.enableControllerPublishCreds", func(s *storageosv1.StorageOSClusterSpec) { withCSI(s); s.CSI.EnableControllerPublishCreds = true }, nil,
			credentials(desired.ControllerPublishCreds, "pub")},
		{"csi.enableNodePublishCreds", func(s *storageosv1.StorageOSClusterSpec) { withCSI(s); s.CSI.EnableNodePublishCreds = true }, nil,
			credentials(desired.NodePublishCreds, "node")},
		{"csi.enableControllerExpandCreds", func(s *storageosv1.StorageOSClusterSpec) { withCSI(s); s.CSI.EnableControllerExpandCreds = true }, nil,
			credentials(desired.ControllerExpandCreds, "exp")},
		{"service.*", func(s *storageosv1.StorageOSClusterSpec) {
			s.Service = storageosv1.StorageOSClusterService{Name: "sos-api", Type: corev1.ServiceTypeNodePort, ExternalPort: 30705, InternalPort: 5706,
				Annotations: map[string]string{"example.com/tier": "storage"}}
		}, nil, exists(local("sos-api", &corev1.Service{}), func(svc *corev1.Service) bool {
			p := svc.Spec.Ports[0]
			return svc.Spec.Type == corev1.ServiceTypeNodePort && p.Port == 30705 && p.TargetPort.IntValue() == 5706 &&
				svc.Annotations["example.com/tier"] == "storage"
		})},
		{"sharedDir", func(s *storageosv1.StorageOSClusterSpec) { s.SharedDir = "/mnt/storageos-shared" }, nil,
			func(t *testing.T, c *storageosv1.StorageOSCluster) {
				daemonSet(func(p corev1.PodSpec) bool { return hasVolume(p, "shared", "/mnt/storageos-shared") })(t, c)
				nodeConfig(func(env map[string]string) bool { return env["DEVICE_DIR"] == "/mnt/storageos-shared/devices" })(t, c)
			}},
		{"kvBackend.*", func(s *storageosv1.StorageOSClusterSpec) {
			s.KVBackend = storageosv1.StorageOSClusterKVBackend{Backend: storageosv1.KVBackendEtcd, Address: "10.0.0.1:2379,10.0.0.2:2379"}
		}, nil, nodeConfig(func(env map[string]string) bool { return env["ETCD_ENDPOINTS"] == "10.0.0.1:2379,10.0.0.2:2379" })},
		{"tlsEtcdSecretRefName/Namespace", func(s *storageosv1.StorageOSClusterSpec) {
			s.KVBackend = storageosv1.StorageOSClusterKVBackend{Backend: storageosv1.KVBackendEtcd, Address: "etcd:2379"}
			s.TLSEtcdSecretRefName, s.TLSEtcdSecretRefNamespace = "etcd-client", storageosv1.NamespaceName(secretNS)
		}, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			exists(local(desired.EtcdTLSSecretName, &corev1.Secret{}), func(s *corev1.Secret) bool { return string(s.Data["etcd-client.crt"]) == "CRT" })(t, c)
			daemonSet(func(p corev1.PodSpec) bool {
				for _, m := range container(p, "storageos").VolumeMounts {
					if m.Name == "etcd-certs" && m.MountPath == "/run/storageos/pki" {
						return true
					}
				}
				return false
			})(t, c)
			nodeConfig(func(env map[string]string) bool {
				return env["ETCD_TLS_CLIENT_CERT"] == "/run/storageos/pki/etcd-client.crt"
			})(t, c)
		}},
		{"disableFencing", func(s *storageosv1.StorageOSClusterSpec) { s.DisableFencing = true }, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			nodeConfig(func(env map[string]string) bool { return env["DISABLE_FENCING"] == "true" })(t, c)
			absent(named("storageos:pod-fencer", &rbacv1.ClusterRoleBinding{}))(t, c)
		}},
		{"disableTCMU", func(s *storageosv1.StorageOSClusterSpec) { s.DisableTCMU = true }, nil,
			nodeConfig(func(env map[string]string) bool { return env["DISABLE_TCMU"] == "true" && env["FORCE_TCMU"] == "" })},
		{"forceTCMU", func(s *storageosv1.StorageOSClusterSpec) { s.ForceTCMU = true }, nil,
			nodeConfig(func(env map[string]string) bool { return env["FORCE_TCMU"] == "true" && env["DISABLE_TCMU"] == "" })},
		{"disableScheduler", func(s *storageosv1.StorageOSClusterSpec) { s.DisableScheduler = true }, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			nodeConfig(func(env map[string]string) bool { return env["K8S_ENABLE_SCHEDULER_EXTENDER"] == "false" })(t, c)
			absent(local(names.Scheduler, &appsv1.Deployment{}))(t, c)
		}},
		{"nodeSelectorTerms", func(s *storageosv1.StorageOSClusterSpec) {
			s.NodeSelectorTerms = []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "storage", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes"}}}}}
		}, nil, daemonSet(func(p corev1.PodSpec) bool {
			return p.Affinity != nil && p.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key == "storage"
		})},
		{"resources", func(s *storageosv1.StorageOSClusterSpec) {
			s.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
		}, nil, daemonSet(func(p corev1.PodSpec) bool {
			limit := container(p, "storageos").Resources.Limits[corev1.ResourceMemory]
			return limit.String() == "2Gi"
		})},
		{"k8sDistro openshift", func(s *storageosv1.StorageOSClusterSpec) { s.K8sDistro = "openshift" }, nil, func(t *testing.T, c *storageosv1.StorageOSCluster) {
			exists(named("storageos:openshift-scc", &rbacv1.ClusterRoleBinding{}), nil)(t, c)
			nodeConfig(func(env map[string]string) bool { return env["K8S_DISTRO"] == "openshift" })(t, c)
		}},
		{"storageClassName", func(s *storageosv1.StorageOSClusterSpec) { s.StorageClassName = "storageos-fast" }, nil,
			exists(named("storageos-fast", &storagev1.StorageClass{}), nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				operatorEnv.Store(k, v)
				t.Cleanup(func() { operatorEnv.Delete(k) })
			}
			c := createCluster(t, tc.spec)
			tc.check(t, c)
		})
	}
}

// credentials checks the credential secret copied from the API secret and its StorageClass parameters.
func credentials(cs desired.CredentialSecret, username string) func(*testing.T, *storageosv1.StorageOSCluster) {
	return func(t *testing.T, c *storageosv1.StorageOSCluster) {
		exists(local(cs.Name, &corev1.Secret{}), func(s *corev1.Secret) bool {
			return string(s.Data["username"]) == username && string(s.Data["password"]) == username+"-secret"
		})(t, c)
		exists(named("fast", &storagev1.StorageClass{}), func(sc *storagev1.StorageClass) bool {
			return sc.Provisioner == names.CSIDriver && sc.Parameters[cs.Parameter+"-name"] == cs.Name &&
				sc.Parameters[cs.Parameter+"-namespace"] == string(c.Spec.Namespace)
		})(t, c)
	}
}
