package desired

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// configObjects: the secrets copied from the cluster's API secret, the etcd TLS copy and the node ConfigMap.
func configObjects(in Input) []client.Object {
	spec := in.Cluster.Spec
	objs := []client.Object{
		credentialSecret(in, InitSecretName, "apiUsername", "apiPassword"),
	}
	for _, c := range EnabledCredentials(spec) {
		objs = append(objs, credentialSecret(in, c.Name, c.UsernameKey, c.PasswordKey))
	}
	if spec.Ingress.Enable && spec.Ingress.TLS {
		objs = append(objs, &corev1.Secret{
			ObjectMeta: meta(in, OperandConfig, IngressTLSSecretName),
			Type:       corev1.SecretTypeTLS,
			Data: map[string][]byte{
				corev1.TLSCertKey:       in.APISecret[corev1.TLSCertKey],
				corev1.TLSPrivateKeyKey: in.APISecret[corev1.TLSPrivateKeyKey],
			},
		})
	}
	if in.EtcdTLSSecret != nil {
		// Only the files the node reads travel: whatever else the source Secret holds stays where it is.
		data := map[string][]byte{}
		for _, k := range EtcdTLSKeys {
			data[k] = in.EtcdTLSSecret.Data[k]
		}
		objs = append(objs, &corev1.Secret{
			ObjectMeta: meta(in, OperandConfig, EtcdTLSSecretName),
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		})
	}
	objs = append(objs, &corev1.ConfigMap{ObjectMeta: meta(in, OperandConfig, names.NodeConfigMap), Data: nodeEnv(in)})
	return objs
}

// The keys of the etcd TLS Secret (tlsEtcdSecretRefName) the node reads, as the original named them.
const (
	EtcdTLSCAKey   = "etcd-client-ca.crt"
	EtcdTLSCertKey = "etcd-client.crt"
	EtcdTLSKeyKey  = "etcd-client.key"
)

// EtcdTLSKeys are the keys copied from the etcd TLS Secret, and required in it.
var EtcdTLSKeys = []string{EtcdTLSCAKey, EtcdTLSCertKey, EtcdTLSKeyKey}

// EnabledCredentials are the CSI credential secrets the csi.enable*Creds flags ask for (none without csi.enable).
func EnabledCredentials(spec storageosv1.StorageOSClusterSpec) []CredentialSecret {
	csi := spec.CSI
	if !csi.Enable {
		return nil
	}
	var out []CredentialSecret
	for _, c := range []struct {
		on     bool
		secret CredentialSecret
	}{
		{csi.EnableProvisionCreds, ProvisionCreds},
		{csi.EnableControllerPublishCreds, ControllerPublishCreds},
		{csi.EnableNodePublishCreds, NodePublishCreds},
		{csi.EnableControllerExpandCreds, ControllerExpandCreds},
	} {
		if c.on {
			out = append(out, c.secret)
		}
	}
	return out
}

// credentialSecret copies a username and password from the API secret into the keys the consumers read.
func credentialSecret(in Input, name, usernameKey, passwordKey string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: meta(in, OperandConfig, name),
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"username": in.APISecret[usernameKey],
			"password": in.APISecret[passwordKey],
		},
	}
}

// nodeEnv is the StorageOS node's environment, shared by its init and node containers through envFrom.
func nodeEnv(in Input) map[string]string {
	spec := in.Cluster.Spec
	env := map[string]string{
		"K8S_NAMESPACE":                 namespace(in),
		"DISABLE_TELEMETRY":             strconv.FormatBool(spec.DisableTelemetry),
		"DISABLE_VERSION_CHECK":         strconv.FormatBool(spec.DisableTelemetry),
		"DISABLE_CRASH_REPORTING":       strconv.FormatBool(spec.DisableTelemetry),
		"DISABLE_FENCING":               strconv.FormatBool(spec.DisableFencing),
		"K8S_ENABLE_SCHEDULER_EXTENDER": strconv.FormatBool(!spec.DisableScheduler),
		"LOG_FORMAT":                    "json",
		"LOG_LEVEL":                     "info",
		"RECOMMENDED_MAX_PIDS_LIMIT":    "32768",
	}
	if spec.Debug {
		env["LOG_LEVEL"] = "debug"
	}
	// As the original: the address reaches the nodes whenever it is set, whichever backend is named.
	if spec.KVBackend.Address != "" {
		env["ETCD_ENDPOINTS"] = spec.KVBackend.Address
	}
	if in.EtcdTLSSecret != nil {
		env["ETCD_TLS_CLIENT_CA"] = etcdTLSMountPath + "/" + EtcdTLSCAKey
		env["ETCD_TLS_CLIENT_KEY"] = etcdTLSMountPath + "/" + EtcdTLSKeyKey
		env["ETCD_TLS_CLIENT_CERT"] = etcdTLSMountPath + "/" + EtcdTLSCertKey
	}
	if spec.DisableTCMU {
		env["DISABLE_TCMU"] = "true"
	}
	if spec.ForceTCMU {
		env["FORCE_TCMU"] = "true"
	}
	if spec.K8sDistro != "" {
		env["K8S_DISTRO"] = spec.K8sDistro
	}
	if spec.SharedDir != "" {
		env["DEVICE_DIR"] = string(spec.SharedDir) + "/devices"
	}
	if spec.CSI.Enable {
		paths := ResolveCSIPaths(spec.CSI)
		env["CSI_ENDPOINT"] = paths.Endpoint
		env["CSI_VERSION"] = paths.Version
	}
	return env
}
