package desired

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Only the keys the StorageOS pods read are copied out of a referenced Secret, as Opaque Secrets: whatever else
// the source holds (another service's credentials in the same Secret, a service-account token) stays where it is.
func TestSecretCopiesCarryOnlyTheKeysUsed(t *testing.T) {
	source := map[string][]byte{
		"apiUsername": []byte("admin"), "apiPassword": []byte("pw"),
		"csiProvisionUsername": []byte("prov"), "csiProvisionPassword": []byte("prov-pw"),
		"tls.crt": []byte("CERT"), "tls.key": []byte("KEY"),
		"unrelated-token": []byte("do-not-copy"),
	}
	c := defaulted(func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset", EnableProvisionCreds: true}
		s.Ingress.Enable, s.Ingress.TLS = true, true
		s.KVBackend = storageosv1.StorageOSClusterKVBackend{Backend: storageosv1.KVBackendEtcd, Address: "etcd:2379"}
		s.TLSEtcdSecretRefName, s.TLSEtcdSecretRefNamespace = "etcd", "secrets"
	})
	in := input(c)
	in.APISecret = source
	in.EtcdTLSSecret = &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{
		EtcdTLSCAKey: []byte("CA"), EtcdTLSCertKey: []byte("CRT"), EtcdTLSKeyKey: []byte("KEY"),
		"backup-encryption-key": []byte("do-not-copy")}}

	want := map[string]struct {
		typ  corev1.SecretType
		keys []string
	}{
		InitSecretName:       {corev1.SecretTypeOpaque, []string{"username", "password"}},
		ProvisionCreds.Name:  {corev1.SecretTypeOpaque, []string{"username", "password"}},
		IngressTLSSecretName: {corev1.SecretTypeTLS, []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey}},
		EtcdTLSSecretName:    {corev1.SecretTypeOpaque, EtcdTLSKeys},
	}
	seen := 0
	var objs []client.Object
	for _, op := range Operands {
		objs = append(objs, Build(op, in)...)
	}
	for _, obj := range objs {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			continue
		}
		w, known := want[s.Name]
		require.True(t, known, "unexpected Secret %s", s.Name)
		seen++
		assert.Equal(t, w.typ, s.Type, s.Name)
		var keys []string
		for k, v := range s.Data {
			keys = append(keys, k)
			assert.NotEqual(t, "do-not-copy", string(v), "%s carries a key nobody reads", s.Name)
		}
		assert.ElementsMatch(t, w.keys, keys, s.Name)
	}
	assert.Equal(t, len(want), seen)
}
