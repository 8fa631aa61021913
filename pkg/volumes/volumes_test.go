package volumes

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// fakeLookup is an in-memory Lookup; it fails every lookup with err when set.
type fakeLookup struct {
	claims        map[string]*corev1.PersistentVolumeClaim // by namespace/name
	classes       map[string]*storagev1.StorageClass
	defaultClass  string
	volumes       map[string]*corev1.PersistentVolume
	volumeLookups int
	err           error
}

func (f *fakeLookup) PVC(_ context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error) {
	return f.claims[namespace+"/"+name], f.err
}
func (f *fakeLookup) StorageClass(_ context.Context, name string) (*storagev1.StorageClass, error) {
	return f.classes[name], f.err
}
func (f *fakeLookup) DefaultStorageClass(context.Context) (*storagev1.StorageClass, error) {
	return f.classes[f.defaultClass], f.err
}
func (f *fakeLookup) PersistentVolume(_ context.Context, name string) (*corev1.PersistentVolume, error) {
	f.volumeLookups++
	return f.volumes[name], f.err
}

func newLookup() *fakeLookup {
	class := func(name, provisioner string) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	}
	claim := func(name string, className *string, annotations map[string]string, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Annotations: annotations},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className, VolumeName: volume}}
	}
	volume := func(name string, source corev1.PersistentVolumeSource) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: source}}
	}
	return &fakeLookup{
		classes: map[string]*storagev1.StorageClass{
			"fast": class("fast", "csi.storageos.com"), "intree": class("intree", "kubernetes.io/storageos"),
			"v1": class("v1", "storageos"), "ebs": class("ebs", "ebs.csi.aws.com"),
		},
		claims: map[string]*corev1.PersistentVolumeClaim{
			"apps/csi":           claim("csi", ptr.To("fast"), nil, ""),
			"apps/intree":        claim("intree", ptr.To("intree"), nil, ""),
			"apps/v1":            claim("v1", ptr.To("v1"), nil, ""),
			"apps/annotated":     claim("annotated", nil, map[string]string{LegacyClassAnnotation: "fast"}, ""),
			"apps/aws":           claim("aws", ptr.To("ebs"), nil, ""),
			"apps/defaulted":     claim("defaulted", nil, nil, ""),
			"apps/noclass":       claim("noclass", ptr.To(""), nil, ""),
			"apps/gone-class":    claim("gone-class", ptr.To("deleted"), nil, ""),
			"apps/static-csi":    claim("static-csi", ptr.To(""), nil, "pv-csi"),
			"apps/static-intree": claim("static-intree", ptr.To(""), nil, "pv-intree"),
			"apps/static-other":  claim("static-other", ptr.To(""), nil, "pv-other"),
			"apps/bound-gone":    claim("bound-gone", ptr.To(""), nil, "pv-deleted"),
		},
		volumes: map[string]*corev1.PersistentVolume{
			"pv-csi": volume("pv-csi", corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "csi.storageos.com", VolumeHandle: "a"}}),
			"pv-intree": volume("pv-intree", corev1.PersistentVolumeSource{
				StorageOS: &corev1.StorageOSPersistentVolumeSource{VolumeName: "b"}}),
			"pv-other": volume("pv-other", corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "ebs.csi.aws.com", VolumeHandle: "c"}}),
		},
	}
}

func pvc(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}
}

func ephemeral(className *string, annotations map[string]string) corev1.Volume {
	return corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
		VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: className}}}}}
}

func TestPodUsesStorageOS(t *testing.T) {
	cases := []struct {
		name         string
		volumes      []corev1.Volume
		defaultClass string
		want         bool
	}{
		{"claim of a CSI class", []corev1.Volume{pvc("csi")}, "", true},
		{"claim of the in-tree provisioner's class", []corev1.Volume{pvc("intree")}, "", true},
		{"claim of a v1 provisioner's class", []corev1.Volume{pvc("v1")}, "", true},
		{"claim of another provisioner's class", []corev1.Volume{pvc("aws")}, "", false},
		{"claim naming its class by the legacy annotation", []corev1.Volume{pvc("annotated")}, "", true},
		{"claim without class, StorageOS default", []corev1.Volume{pvc("defaulted")}, "fast", true},
		{"claim without class, other default", []corev1.Volume{pvc("defaulted")}, "ebs", false},
		{"claim without class, no default", []corev1.Volume{pvc("defaulted")}, "", false},
		{"claim with the empty class, StorageOS default", []corev1.Volume{pvc("noclass")}, "fast", false},
		{"claim of a class that does not exist", []corev1.Volume{pvc("gone-class")}, "fast", false},
		{"claim not created yet", []corev1.Volume{pvc("missing")}, "fast", false},
		{"claim bound to a StorageOS CSI volume, empty class", []corev1.Volume{pvc("static-csi")}, "", true},
		{"claim bound to an in-tree StorageOS volume, empty class", []corev1.Volume{pvc("static-intree")}, "", true},
		{"claim bound to another driver's volume, empty class", []corev1.Volume{pvc("static-other")}, "fast", false},
		{"claim bound to a volume that does not exist", []corev1.Volume{pvc("bound-gone")}, "", false},
		{"ephemeral volume of a StorageOS class", []corev1.Volume{ephemeral(ptr.To("fast"), nil)}, "", true},
		{"ephemeral volume of another class", []corev1.Volume{ephemeral(ptr.To("ebs"), nil)}, "fast", false},
		{"ephemeral volume, StorageOS default", []corev1.Volume{ephemeral(nil, nil)}, "fast", true},
		{"ephemeral volume naming its class by the legacy annotation", []corev1.Volume{
			ephemeral(nil, map[string]string{LegacyClassAnnotation: "fast"})}, "ebs", true},
		{"one StorageOS volume among others", []corev1.Volume{pvc("aws"), pvc("missing"), pvc("csi")}, "", true},
		{"no volumes", nil, "fast", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLookup()
			l.defaultClass = tc.defaultClass
			got, err := PodUsesStorageOS(context.Background(), "apps", &corev1.PodSpec{Volumes: tc.volumes}, l)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// A claim's volume is looked up only when it is bound and its class did not already say StorageOS.
func TestVolumeIsLookedUpOnlyWhenTheClassDoesNotDecide(t *testing.T) {
	cases := []struct {
		name    string
		spec    corev1.PersistentVolumeClaimSpec
		lookups int
	}{
		{"bound, StorageOS class", corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast"), VolumeName: "pv-csi"}, 0},
		{"bound, other class", corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("ebs"), VolumeName: "pv-csi"}, 1},
		{"bound, empty class", corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(""), VolumeName: "pv-csi"}, 1},
		{"not bound, other class", corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("ebs")}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLookup()
			uses, err := ClaimUsesStorageOS(context.Background(), nil, &tc.spec, l)
			require.NoError(t, err)
			assert.Equal(t, tc.spec.VolumeName != "", uses, "pv-csi is a StorageOS volume")
			assert.Equal(t, tc.lookups, l.volumeLookups)
		})
	}
}

func TestLookupErrorsAreReturned(t *testing.T) {
	l := newLookup()
	l.err = errors.New("cache not synced")
	_, err := PodUsesStorageOS(context.Background(), "apps", &corev1.PodSpec{Volumes: []corev1.Volume{pvc("csi")}}, l)
	assert.ErrorIs(t, err, l.err)
}
