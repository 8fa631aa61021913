package demo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

func claim(name string, class *string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	}
}

// Which claims get a volume, decided without a cluster: those a real StorageOS provisioner would provision now.
func TestVolumeForProvisionsOnlyPendingClaimsOfStorageOSClasses(t *testing.T) {
	classes := []storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "csi"}, Provisioner: names.CSIDriver},
		{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Provisioner: names.LegacyProvisioner},
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Annotations: map[string]string{volumes.DefaultClassAnnotation: "true"}},
			Provisioner: "example.com/other"},
		{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Provisioner: names.CSIDriver,
			VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)},
	}
	pending := func(name string, class *string, edit func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
		c := claim(name, class)
		c.UID = types.UID("uid-" + name)
		c.Status.Phase = corev1.ClaimPending
		if edit != nil {
			edit(c)
		}
		return c
	}
	for _, tc := range []struct {
		claim *corev1.PersistentVolumeClaim
		want  bool
	}{
		{pending("csi", ptr.To("csi"), nil), true},
		{pending("legacy", ptr.To("legacy"), nil), true},
		{pending("legacy-annotation", nil, func(c *corev1.PersistentVolumeClaim) {
			c.Annotations = map[string]string{volumes.LegacyClassAnnotation: "csi"}
		}), true},
		{pending("other", ptr.To("other"), nil), false},
		{pending("default-is-other", nil, nil), false},
		{pending("no-class", ptr.To(""), nil), false},
		{pending("missing-class", ptr.To("missing"), nil), false},
		{pending("bound", ptr.To("csi"), func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = corev1.ClaimBound }), false},
		{pending("binding", ptr.To("csi"), func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv" }), false},
		{pending("selector", ptr.To("csi"), func(c *corev1.PersistentVolumeClaim) { c.Spec.Selector = &metav1.LabelSelector{} }), false},
		{pending("deleted", ptr.To("csi"), func(c *corev1.PersistentVolumeClaim) { c.DeletionTimestamp = ptr.To(metav1.Now()) }), false},
		{pending("first-consumer-unscheduled", ptr.To("late"), nil), false},
		{pending("first-consumer-scheduled", ptr.To("late"), func(c *corev1.PersistentVolumeClaim) {
			c.Annotations = map[string]string{selectedNodeAnnotation: "node-1"}
		}), true},
	} {
		pv := volumeFor(tc.claim, classes)
		assert.Equal(t, tc.want, pv != nil, tc.claim.Name)
	}

	// With a StorageOS class as default, a claim naming none is ours.
	classes[2].Annotations = nil
	classes[0].Annotations = map[string]string{volumes.DefaultClassAnnotation: "true"}
	pv := volumeFor(pending("default-is-csi", nil, nil), classes)
	require.NotNil(t, pv)
	assert.Equal(t, "csi", pv.Spec.StorageClassName)
}

// Against kube-controller-manager's PV controller, as in the demo: the claims of StorageOS classes are bound
// to the volumes the provisioner makes, with everything a CSI provisioner puts on them; a claim of another
// class is left alone; deleting a claim deletes its volume unless the class retains it.
func TestProvisionedVolumesAreBoundAndDeletedWithTheirClaims(t *testing.T) {
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	bins, err := envtest.AssetsDir(root)
	require.NoError(t, err)
	stages, err := localcluster.KwokStageFiles(root)
	require.NoError(t, err)
	ctx := context.Background()
	cluster, err := localcluster.Start(ctx, localcluster.Options{BinDir: bins, KwokStages: stages, WorkDir: t.TempDir(),
		Nodes: []string{"node-1"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cluster.Stop()) })
	c := cluster.Client

	classes := []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "csi", Annotations: map[string]string{volumes.DefaultClassAnnotation: "true"}},
			Provisioner: names.CSIDriver, VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
			MountOptions: []string{"noatime"}, Parameters: map[string]string{fsTypeParameter: "ext4"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}, Provisioner: names.LegacyProvisioner,
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRetain), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)},
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Provisioner: "example.com/other"},
	}
	for _, sc := range classes {
		require.NoError(t, c.Create(ctx, sc))
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Two provisioners race for every claim and every released volume: what the other did first is no error.
	var log logBuffer
	for range 2 {
		p := &provisioner{c: c, log: &log}
		wg.Go(func() { p.run(runCtx, 100*time.Millisecond) })
	}
	t.Cleanup(func() {
		stop()
		wg.Wait()
		t.Log("provisioner log:\n" + log.String())
		assert.NotContains(t, log.String(), "error")
	})

	csi, legacy, byDefault, other := claim("csi", ptr.To("csi")), claim("legacy", ptr.To("legacy")), claim("by-default", nil), claim("other", ptr.To("other"))
	for _, pvc := range []*corev1.PersistentVolumeClaim{csi, legacy, byDefault, other} {
		require.NoError(t, c.Create(ctx, pvc))
	}
	bound := func(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
		t.Helper()
		require.EventuallyWithT(t, func(t *assert.CollectT) {
			require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(pvc), pvc))
			require.Equal(t, corev1.ClaimBound, pvc.Status.Phase)
		}, time.Minute, 100*time.Millisecond, "claim %s bound", pvc.Name)
		pv := &corev1.PersistentVolume{}
		require.NoError(t, c.Get(ctx, client.ObjectKey{Name: pvc.Spec.VolumeName}, pv))
		assert.Equal(t, "pvc-"+string(pvc.UID), pv.Name)
		assert.Equal(t, corev1.VolumeBound, pv.Status.Phase)
		assert.Equal(t, names.CSIDriver, pv.Annotations[provisionedByAnnotation])
		assert.Equal(t, *pvc.Spec.StorageClassName, pv.Spec.StorageClassName)
		assert.Equal(t, pvc.Spec.AccessModes, pv.Spec.AccessModes)
		assert.True(t, pv.Spec.Capacity.Storage().Equal(resource.MustParse("2Gi")), "capacity %s", pv.Spec.Capacity.Storage())
		require.NotNil(t, pv.Spec.ClaimRef)
		assert.Equal(t, pvc.UID, pv.Spec.ClaimRef.UID)
		require.NotNil(t, pv.Spec.CSI)
		assert.Equal(t, names.CSIDriver, pv.Spec.CSI.Driver)
		assert.NotEmpty(t, pv.Spec.CSI.VolumeHandle)
		return pv
	}

	csiPV := bound(csi)
	assert.Equal(t, corev1.PersistentVolumeReclaimDelete, csiPV.Spec.PersistentVolumeReclaimPolicy, "the class's default")
	assert.Equal(t, []string{"noatime"}, csiPV.Spec.MountOptions)
	assert.Equal(t, "ext4", csiPV.Spec.CSI.FSType)
	legacyPV := bound(legacy)
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, legacyPV.Spec.PersistentVolumeReclaimPolicy)
	assert.Equal(t, "csi", *byDefault.Spec.StorageClassName, "the API server gave the claim the default class")
	bound(byDefault)

	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(other), other))
	assert.Equal(t, corev1.ClaimPending, other.Status.Phase, "another provisioner's claim")
	var pvs corev1.PersistentVolumeList
	require.NoError(t, c.List(ctx, &pvs))
	assert.Len(t, pvs.Items, 3, "one volume per StorageOS claim, none for the other")

	p := &provisioner{c: c, log: t.Output()}
	require.NoError(t, p.sync(ctx), "nothing to do once bound")

	for _, pvc := range []*corev1.PersistentVolumeClaim{csi, legacy} {
		require.NoError(t, c.Delete(ctx, pvc))
	}
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		err := c.Get(ctx, client.ObjectKeyFromObject(csiPV), &corev1.PersistentVolume{})
		require.True(t, apierrors.IsNotFound(err), "volume %s still there (%v)", csiPV.Name, err)
	}, time.Minute, 100*time.Millisecond, "the Delete class's volume deleted with its claim")
	// The legacy class retains: its volume is Released and stays.
	require.EventuallyWithT(t, func(t *assert.CollectT) {
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(legacyPV), legacyPV))
		require.Equal(t, corev1.VolumeReleased, legacyPV.Status.Phase)
	}, time.Minute, 100*time.Millisecond, "the Retain class's volume released")
	time.Sleep(time.Second)
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(legacyPV), legacyPV), "a retained volume is kept")
}

// An error is retried every tick but logged once, not every tick, and the provisioner stops with its context.
func TestProvisionerLogsAnErrorOnceAndRetries(t *testing.T) {
	var log logBuffer
	failing := &failingClient{}
	p := &provisioner{c: failing, log: &log}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p.run(ctx, 10*time.Millisecond)
	assert.Equal(t, 1, strings.Count(log.String(), "\n"), "the same error is logged once: %s", log.String())
	assert.Contains(t, log.String(), "listing StorageClasses: the API server is down")
	assert.Greater(t, int(failing.calls.Load()), 5, "retried every tick")
}

type failingClient struct {
	client.Client
	calls atomic.Int32
}

func (c *failingClient) List(context.Context, client.ObjectList, ...client.ListOption) error {
	c.calls.Add(1)
	return errors.New("the API server is down")
}

type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
