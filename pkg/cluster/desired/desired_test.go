package desired

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/version"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// defaulted is a cluster as the API server stores it after applying the CRD's defaults to the seed sample.
func defaulted(mutate func(*storageosv1.StorageOSClusterSpec)) *storageosv1.StorageOSCluster {
	c := &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "example-storageos", Namespace: "default"},
		Spec: storageosv1.StorageOSClusterSpec{
			SecretRefName:      "storageos-api",
			SecretRefNamespace: "default",
			Namespace:          "storageos",
			Images:             storageosv1.ContainerImages{NodeContainer: "storageos/node:v2.1.0", InitContainer: "storageos/init:1.0.0"},
			CSI:                storageosv1.StorageOSClusterCSI{DeploymentStrategy: "statefulset"},
			Service:            storageosv1.StorageOSClusterService{Name: "storageos", Type: "ClusterIP", ExternalPort: 5705, InternalPort: 5705},
			Ingress:            storageosv1.StorageOSClusterIngress{Hostname: "storageos.local"},
			SharedDir:          "/var/lib/kubelet/plugins/kubernetes.io~storageos",
			KVBackend:          storageosv1.StorageOSClusterKVBackend{Backend: "embedded"},
			StorageClassName:   "fast",
		},
	}
	if mutate != nil {
		mutate(&c.Spec)
	}
	return c
}

var apiSecret = map[string][]byte{
	"apiUsername": []byte("storageos"), "apiPassword": []byte("api-password"),
	"csiProvisionUsername": []byte("prov"), "csiProvisionPassword": []byte("prov-password"),
	"csiControllerPublishUsername": []byte("pub"), "csiControllerPublishPassword": []byte("pub-password"),
	"csiNodePublishUsername": []byte("node"), "csiNodePublishPassword": []byte("node-password"),
	"csiControllerExpandUsername": []byte("exp"), "csiControllerExpandPassword": []byte("exp-password"),
	"tls.crt": []byte("CERT"), "tls.key": []byte("KEY"),
}

func input(c *storageosv1.StorageOSCluster) Input {
	kube := version.MustParseGeneric("v1.37.2")
	in := Input{Cluster: c, KubeVersion: kube, Images: ResolveImages(c.Spec.Images, kube, func(string) string { return "" }), APISecret: apiSecret}
	if c.Spec.TLSEtcdSecretRefName != "" {
		in.EtcdTLSSecret = &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{
			"etcd-client-ca.crt": []byte("CA"), "etcd-client.crt": []byte("CRT"), "etcd-client.key": []byte("KEY")}}
	}
	return in
}

// goldenCases are representative specs; their rendered objects are kept in testdata/<name>.yaml.
var goldenCases = map[string]*storageosv1.StorageOSCluster{
	// The seed's storageos_v1_storageoscluster.yaml: every default, CSI off.
	"defaults": defaulted(nil),
	// The seed's CSI credentials example.
	"csi-credentials": defaulted(func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset",
			EnableProvisionCreds: true, EnableControllerPublishCreds: true, EnableNodePublishCreds: true}
	}),
	// Every other parameter away from its default.
	"everything": defaulted(func(s *storageosv1.StorageOSClusterSpec) {
		s.Namespace = "kube-system"
		s.Images.NodeContainer = "registry.example.com/storageos/node:v2.2.0"
		s.Images.KubeSchedulerContainer = "registry.example.com/kube-scheduler:v1.37.2"
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "deployment", EnableControllerExpandCreds: true}
		s.Service = storageosv1.StorageOSClusterService{Name: "storageos-api", Type: "NodePort", ExternalPort: 30705, InternalPort: 5706,
			Annotations: map[string]string{"service.example.com/tier": "storage"}}
		s.Ingress = storageosv1.StorageOSClusterIngress{Enable: true, TLS: true, Hostname: "storageos.example.com",
			Annotations: map[string]string{"kubernetes.io/ingress.class": "nginx"}}
		s.SharedDir = "/mnt/storageos-shared"
		s.KVBackend = storageosv1.StorageOSClusterKVBackend{Backend: "etcd", Address: "10.0.0.1:2379,10.0.0.2:2379"}
		s.TLSEtcdSecretRefName, s.TLSEtcdSecretRefNamespace = "etcd-client-tls", "etcd"
		s.Debug, s.DisableFencing, s.DisableTelemetry, s.DisableTCMU = true, true, true, true
		s.NodeSelectorTerms = []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "node-role.kubernetes.io/worker", Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}}}}
		s.Tolerations = []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpEqual, Value: "dedicated", Effect: corev1.TaintEffectNoSchedule}}
		s.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}}
		s.K8sDistro = "openshift"
		s.StorageClassName = "storageos-replicated"
	}),
	"no-scheduler": defaulted(func(s *storageosv1.StorageOSClusterSpec) {
		s.DisableScheduler, s.ForceTCMU = true, true
	}),
}

// render writes every operand's objects, with their kinds, as one YAML stream in dependency order.
func render(t *testing.T, in Input) string {
	t.Helper()
	scheme := manager.NewScheme()
	var docs []string
	objs := []client.Object{Namespace(in)}
	for _, op := range Operands {
		objs = append(objs, Build(op, in)...)
	}
	for _, obj := range objs {
		docs = append(docs, toYAML(t, scheme, obj))
	}
	return strings.Join(docs, "---\n")
}

func toYAML(t *testing.T, scheme *runtime.Scheme, obj client.Object) string {
	t.Helper()
	gvk, err := apiutil.GVKForObject(obj, scheme)
	require.NoError(t, err)
	obj = obj.DeepCopyObject().(client.Object)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	out, err := yaml.Marshal(obj)
	require.NoError(t, err)
	return string(out)
}

func TestGolden(t *testing.T) {
	for name, c := range goldenCases {
		t.Run(name, func(t *testing.T) {
			got := render(t, input(c))
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./pkg/cluster/desired -update to create the golden files")
			assert.Equal(t, string(want), got, "desired objects changed: review, then go test ./pkg/cluster/desired -update")
		})
	}
}

// Building twice from the same input gives the same objects: the reconciler's "unchanged" check relies on it.
func TestBuildIsDeterministic(t *testing.T) {
	for name, c := range goldenCases {
		first, second := render(t, input(c)), render(t, input(c))
		assert.Equal(t, first, second, name)
	}
}
