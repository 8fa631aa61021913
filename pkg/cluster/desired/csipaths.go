package desired

import (
	"path"
	"strings"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// CSIPaths are the host paths of the CSI driver after defaults. Each default is derived from kubeletDir, so a
// cluster whose kubelet lives elsewhere (k3s, RKE, microk8s) sets kubeletDir alone; with the default kubeletDir
// every path is the original operator's default.
type CSIPaths struct {
	KubeletDir              string
	RegistrationDir         string
	PluginDir               string
	KubeletRegistrationPath string
	RegistrarSocketDir      string
	DeviceDir               string
	// Endpoint is the socket URL the node listens on (CSI_ENDPOINT).
	Endpoint string
	// Version is the CSI spec version the node serves (CSI_VERSION).
	Version string
}

// ResolveCSIPaths applies the defaults to csi's paths.
func ResolveCSIPaths(csi storageosv1.StorageOSClusterCSI) CSIPaths {
	or := func(v storageosv1.AbsolutePath, fallback string) string {
		if v != "" {
			return string(v)
		}
		return fallback
	}
	p := CSIPaths{KubeletDir: or(csi.KubeletDir, "/var/lib/kubelet")}
	p.RegistrationDir = or(csi.RegistrationDir, path.Join(p.KubeletDir, "plugins_registry"))
	// The trailing slash is the original's, kept so that an adopted DaemonSet's template does not change.
	p.PluginDir = or(csi.PluginDir, path.Join(p.RegistrationDir, "storageos")+"/")
	p.KubeletRegistrationPath = or(csi.KubeletRegistrationPath, path.Join(p.PluginDir, "csi.sock"))
	p.RegistrarSocketDir = or(csi.RegistrarSocketDir, path.Join(p.KubeletDir, "device-plugins")+"/")
	p.DeviceDir = or(csi.DeviceDir, "/dev")
	switch {
	case csi.Endpoint == "":
		p.Endpoint = "unix://" + path.Join(p.PluginDir, "csi.sock")
	case strings.HasPrefix(csi.Endpoint, "/"):
		p.Endpoint = "unix://" + csi.Endpoint
	default:
		p.Endpoint = csi.Endpoint
	}
	p.Version = csi.Version
	if p.Version == "" {
		p.Version = "v1"
	}
	return p
}

// IgnoredFields are the fields set in spec that have no effect on a StorageOS v2 cluster: the original
// operator's settings for v1 nodes and for Kubernetes before 1.14. They are accepted so that its manifests and
// clusters keep working; the cluster's FieldsIgnored condition lists them.
func IgnoredFields(spec storageosv1.StorageOSClusterSpec) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"spec.join", strings.TrimSpace(spec.Join) != ""},
		{"spec.csi.driverRegisterationMode", spec.CSI.DriverRegistrationMode != ""},
		{"spec.csi.driverRequiresAttachment", spec.CSI.DriverRequiresAttachment != ""},
		{"spec.csi.DriverRequiresAttachment", spec.CSI.LegacyDriverRequiresAttachment != ""},
		{"spec.images.hyperkubeContainer", spec.Images.HyperkubeContainer != ""},
		{"spec.images.csiClusterDriverRegistrarContainer", spec.Images.CSIClusterDriverRegistrarContainer != ""},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}
