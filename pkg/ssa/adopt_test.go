package ssa

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/pkg/names"
)

// Only the legacy owner's objects for the same instance, and the unlabelled objects it is known to have named,
// are ever taken over.
func TestAdoptable(t *testing.T) {
	const legacy = "storageos-operator"
	csiDriverGVK := schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "CSIDriver"}
	configMapGVK := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	desired := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "storageos-node-config", Namespace: "kube-system",
		Labels: map[string]string{names.LabelInstance: "example"}}}
	configMap := func(labels map[string]string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "storageos-node-config", Namespace: "kube-system", Labels: labels}}
	}
	cases := []struct {
		name      string
		legacy    string
		gvk       schema.GroupVersionKind
		desired   client.Object
		live      client.Object
		adoptable bool
	}{
		{"the original's, same instance", legacy, configMapGVK, desired,
			configMap(map[string]string{names.LabelManagedBy: legacy, names.LabelInstance: "example"}), true},
		{"the original's, another cluster's", legacy, configMapGVK, desired,
			configMap(map[string]string{names.LabelManagedBy: legacy, names.LabelInstance: "other"}), false},
		{"the original's, no instance", legacy, configMapGVK, desired,
			configMap(map[string]string{names.LabelManagedBy: legacy}), false},
		{"someone else's", legacy, configMapGVK, desired,
			configMap(map[string]string{names.LabelManagedBy: "helm", names.LabelInstance: "example"}), false},
		{"unlabelled, not named", legacy, configMapGVK, desired, configMap(nil), false},
		{"unlabelled, named", legacy, csiDriverGVK, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: names.CSIDriver}},
			&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: names.CSIDriver}}, true},
		{"named but labelled by someone else", legacy, csiDriverGVK, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: names.CSIDriver}},
			&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: names.CSIDriver, Labels: map[string]string{names.LabelManagedBy: "helm"}}}, false},
		{"adoption off", "", configMapGVK, desired,
			configMap(map[string]string{names.LabelManagedBy: legacy, names.LabelInstance: "example"}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := New(nil, nil, nil, owner)
			if tc.legacy != "" {
				a.AdoptFrom(tc.legacy, "CSIDriver.storage.k8s.io//"+names.CSIDriver)
			}
			assert.Equal(t, tc.adoptable, a.adoptable(tc.gvk, tc.desired, tc.live))
		})
	}
}
