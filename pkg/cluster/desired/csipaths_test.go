package desired

import (
	"testing"

	"github.com/stretchr/testify/assert"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/version"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func TestResolveCSIPaths(t *testing.T) {
	original := CSIPaths{
		KubeletDir:              "/var/lib/kubelet",
		RegistrationDir:         "/var/lib/kubelet/plugins_registry",
		PluginDir:               "/var/lib/kubelet/plugins_registry/storageos/",
		KubeletRegistrationPath: "/var/lib/kubelet/plugins_registry/storageos/csi.sock",
		RegistrarSocketDir:      "/var/lib/kubelet/device-plugins/",
		DeviceDir:               "/dev",
		Endpoint:                "unix:///var/lib/kubelet/plugins_registry/storageos/csi.sock",
		Version:                 "v1",
	}
	cases := []struct {
		name string
		csi  storageosv1.StorageOSClusterCSI
		want CSIPaths
	}{
		{"defaults are the original operator's", storageosv1.StorageOSClusterCSI{}, original},
		{"kubeletDir alone moves every derived path (k3s, RKE)", storageosv1.StorageOSClusterCSI{KubeletDir: "/var/data/kubelet"}, CSIPaths{
			KubeletDir:              "/var/data/kubelet",
			RegistrationDir:         "/var/data/kubelet/plugins_registry",
			PluginDir:               "/var/data/kubelet/plugins_registry/storageos/",
			KubeletRegistrationPath: "/var/data/kubelet/plugins_registry/storageos/csi.sock",
			RegistrarSocketDir:      "/var/data/kubelet/device-plugins/",
			DeviceDir:               "/dev",
			Endpoint:                "unix:///var/data/kubelet/plugins_registry/storageos/csi.sock",
			Version:                 "v1",
		}},
		{"every field set wins", storageosv1.StorageOSClusterCSI{
			KubeletDir: "/k", RegistrationDir: "/r", PluginDir: "/p/", KubeletRegistrationPath: "/p/sock",
			RegistrarSocketDir: "/s/", DeviceDir: "/d", Endpoint: "unix:///e.sock", Version: "v0",
		}, CSIPaths{KubeletDir: "/k", RegistrationDir: "/r", PluginDir: "/p/", KubeletRegistrationPath: "/p/sock",
			RegistrarSocketDir: "/s/", DeviceDir: "/d", Endpoint: "unix:///e.sock", Version: "v0"}},
		{"an endpoint given as a path gets the unix scheme", storageosv1.StorageOSClusterCSI{Endpoint: "/run/sos/csi.sock"},
			func() CSIPaths { p := original; p.Endpoint = "unix:///run/sos/csi.sock"; return p }()},
		{"a plugin dir without trailing slash derives the socket path", storageosv1.StorageOSClusterCSI{PluginDir: "/plugins/sos"},
			func() CSIPaths {
				p := original
				p.PluginDir, p.KubeletRegistrationPath, p.Endpoint = "/plugins/sos", "/plugins/sos/csi.sock", "unix:///plugins/sos/csi.sock"
				return p
			}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ResolveCSIPaths(tc.csi))
		})
	}
}

// The paths reach the node DaemonSet, the registrar's arguments, the node's environment and the CSI helper.
func TestCSIPathsAreDeployed(t *testing.T) {
	c := &storageosv1.StorageOSCluster{Spec: storageosv1.StorageOSClusterSpec{Namespace: "storageos",
		CSI: storageosv1.StorageOSClusterCSI{Enable: true, KubeletDir: "/var/data/kubelet"}}}
	kube := version.MustParseGeneric("1.37.2")
	in := Input{Cluster: c, KubeVersion: kube, Images: ResolveImages(c.Spec.Images, kube, func(string) string { return "" })}
	ds := nodeDaemonSet(in)
	hostPaths := map[string]string{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	assert.Equal(t, "/var/data/kubelet", hostPaths["kubelet-dir"])
	assert.Equal(t, "/var/data/kubelet/plugins_registry", hostPaths["registration-dir"])
	assert.Equal(t, "/var/data/kubelet/plugins_registry/storageos/", hostPaths["plugin-dir"])
	assert.Contains(t, ds.Spec.Template.Spec.Containers[1].Args,
		"--kubelet-registration-path=/var/data/kubelet/plugins_registry/storageos/csi.sock")
	assert.Equal(t, "unix:///var/data/kubelet/plugins_registry/storageos/csi.sock", nodeEnv(in)["CSI_ENDPOINT"])
	helper := csiObjects(in)[1].(*appsv1.StatefulSet)
	assert.Equal(t, "/var/data/kubelet/plugins_registry/storageos/", helper.Spec.Template.Spec.Volumes[0].HostPath.Path)
}

func TestKVBackendAddressAlwaysReachesTheNodes(t *testing.T) {
	for _, backend := range []storageosv1.KVBackendType{"", storageosv1.KVBackendEmbedded, storageosv1.KVBackendEtcd} {
		c := &storageosv1.StorageOSCluster{Spec: storageosv1.StorageOSClusterSpec{
			KVBackend: storageosv1.StorageOSClusterKVBackend{Backend: backend, Address: "10.0.0.1:2379"}}}
		assert.Equal(t, "10.0.0.1:2379", nodeEnv(Input{Cluster: c})["ETCD_ENDPOINTS"], "backend %q", backend)
	}
	assert.NotContains(t, nodeEnv(Input{Cluster: &storageosv1.StorageOSCluster{}}), "ETCD_ENDPOINTS")
}

func TestIgnoredFields(t *testing.T) {
	assert.Empty(t, IgnoredFields(storageosv1.StorageOSClusterSpec{CSI: storageosv1.StorageOSClusterCSI{KubeletDir: "/k", Version: "v1"}}))
	spec := storageosv1.StorageOSClusterSpec{
		Join:   "10.0.0.1,10.0.0.2",
		Images: storageosv1.ContainerImages{HyperkubeContainer: "k8s.gcr.io/hyperkube:v1.17.0"},
		CSI: storageosv1.StorageOSClusterCSI{DriverRegistrationMode: "node-register", DriverRequiresAttachment: "true",
			LegacyDriverRequiresAttachment: "true"},
	}
	assert.Equal(t, []string{"spec.join", "spec.csi.driverRegisterationMode", "spec.csi.driverRequiresAttachment",
		"spec.csi.DriverRequiresAttachment", "spec.images.hyperkubeContainer"}, IgnoredFields(spec))
}
