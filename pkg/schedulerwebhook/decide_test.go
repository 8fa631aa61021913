package schedulerwebhook

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

// fakeLister is an in-memory Lister.
type fakeLister struct {
	pvcs       map[string]*corev1.PersistentVolumeClaim
	classes    map[string]*storagev1.StorageClass
	defaultSC  string
	enabled    bool
	failWith   error
	panicOnPVC bool
	// optedOut are the namespaces labelled to opt out; nsFailWith fails their lookup alone.
	optedOut   map[string]bool
	nsFailWith error
}

func (f *fakeLister) PVC(_ context.Context, ns, name string) (*corev1.PersistentVolumeClaim, error) {
	if f.panicOnPVC {
		panic("lister bug")
	}
	return f.pvcs[ns+"/"+name], f.failWith
}
func (f *fakeLister) StorageClass(_ context.Context, name string) (*storagev1.StorageClass, error) {
	return f.classes[name], f.failWith
}
func (f *fakeLister) DefaultStorageClass(_ context.Context) (*storagev1.StorageClass, error) {
	return f.classes[f.defaultSC], f.failWith
}
func (f *fakeLister) PersistentVolume(context.Context, string) (*corev1.PersistentVolume, error) {
	return nil, f.failWith
}
func (f *fakeLister) SchedulerEnabled(context.Context) (bool, error) { return f.enabled, f.failWith }
func (f *fakeLister) NamespaceOptedOut(_ context.Context, ns string) (bool, error) {
	return f.optedOut[ns], f.nsFailWith
}

func newLister() *fakeLister {
	sc := func(name, provisioner string) *storagev1.StorageClass {
		return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	}
	pvc := func(name, class string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class)}}
	}
	return &fakeLister{
		classes: map[string]*storagev1.StorageClass{"fast": sc("fast", "csi.storageos.com"), "ebs": sc("ebs", "ebs.csi.aws.com")},
		pvcs:    map[string]*corev1.PersistentVolumeClaim{"app/data": pvc("data", "fast"), "app/ebs": pvc("ebs", "ebs")},
		enabled: true,
	}
}

func podWith(volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "app"}, Spec: corev1.PodSpec{Volumes: volumes}}
}

func claim(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name   string
		pod    *corev1.Pod
		lister func(*fakeLister)
		mutate bool
	}{
		// Which volumes are StorageOS's is volumes.PodUsesStorageOS's table test.
		{"PVC of a StorageOS class", podWith(claim("data")), nil, true},
		{"PVC of another provisioner", podWith(claim("ebs")), nil, false},
		{"no StorageOSCluster runs the scheduler", podWith(claim("data")), func(l *fakeLister) { l.enabled = false }, false},
		{"opted out by annotation", func() *corev1.Pod {
			p := podWith(claim("data"))
			p.Annotations = map[string]string{OptOutAnnotation: "false"}
			return p
		}(), nil, false},
		{"namespace opted out by label", podWith(claim("data")), func(l *fakeLister) { l.optedOut = map[string]bool{"app": true} }, false},
		{"another namespace opted out", podWith(claim("data")), func(l *fakeLister) { l.optedOut = map[string]bool{"other": true} }, true},
		{"explicit other scheduler kept", func() *corev1.Pod { p := podWith(claim("data")); p.Spec.SchedulerName = "volcano"; return p }(), nil, false},
		{"explicit default-scheduler replaced", func() *corev1.Pod {
			p := podWith(claim("data"))
			p.Spec.SchedulerName = "default-scheduler"
			return p
		}(), nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLister()
			if tc.lister != nil {
				tc.lister(l)
			}
			d, err := Decide(context.Background(), tc.pod, l)
			require.NoError(t, err)
			assert.Equal(t, tc.mutate, d.Mutate, d.Reason)
			assert.NotEmpty(t, d.Reason)
		})
	}
}

func TestDecideReportsLookupErrors(t *testing.T) {
	l := newLister()
	l.failWith = errors.New("cache not synced")
	_, err := Decide(context.Background(), podWith(claim("data")), l)
	assert.Error(t, err)
}
