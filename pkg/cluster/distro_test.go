package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func TestDefaultDistroAppliesOnlyWhenTheClusterNamesNone(t *testing.T) {
	cases := []struct {
		name, spec, operatorDefault, want string
	}{
		{"no default", "", "", ""},
		{"default used", "", "openshift", "openshift"},
		{"the spec wins", "rancher", "openshift", "rancher"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &storageosv1.StorageOSCluster{Spec: storageosv1.StorageOSClusterSpec{K8sDistro: tc.spec}}
			assert.Equal(t, tc.want, WithDefaultDistro(c, tc.operatorDefault).Spec.K8sDistro)
			assert.Equal(t, tc.spec, c.Spec.K8sDistro, "the stored object is not changed")
		})
	}
}
