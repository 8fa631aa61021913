package ssa

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/storageos/cluster-operator/pkg/names"
)

const owner = "test-manager"

// world is an Applier over the fake client, which implements server-side apply. Its reads go through a view
// that, like the managers' caches, sees only objects carrying our managed-by label; api sees everything.
type world struct {
	applier *Applier
	api     client.Client
	applies int
}

func newWorld(t *testing.T, objs ...client.Object) *world {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
	w := &world{api: api}
	cache := interceptor.NewClient(api, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := c.Get(ctx, key, obj, opts...); err != nil {
				return err
			}
			if obj.GetLabels()[names.LabelManagedBy] != owner {
				return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
			}
			return nil
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			w.applies++
			return c.Apply(ctx, obj, opts...)
		},
	})
	w.applier = New(cache, api, scheme, owner)
	return w
}

func configMap(name string, labels, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: labels}, Data: data}
}

func TestApplySendsOnlyWhatChanged(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, w *world, desired *corev1.ConfigMap)
		// sent is whether the second Apply sends a request.
		sent bool
	}{
		{"nothing changed", func(*testing.T, *world, *corev1.ConfigMap) {}, false},
		{"the live object changed", func(t *testing.T, w *world, _ *corev1.ConfigMap) {
			live := &corev1.ConfigMap{}
			require.NoError(t, w.api.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "config"}, live))
			live.Data["key"] = "edited by hand"
			require.NoError(t, w.api.Update(context.Background(), live))
		}, true},
		{"the desired object changed", func(_ *testing.T, _ *world, desired *corev1.ConfigMap) { desired.Data["key"] = "new" }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			desired := configMap("config", nil, map[string]string{"key": "value"})
			sent, err := w.applier.Apply(ctx, desired.DeepCopy())
			require.NoError(t, err)
			require.True(t, sent, "a new object is sent")

			tc.change(t, w, desired)
			sent, err = w.applier.Apply(ctx, desired.DeepCopy())
			require.NoError(t, err)
			assert.Equal(t, tc.sent, sent)
			if tc.sent {
				assert.Equal(t, 2, w.applies, "requests sent")
			} else {
				assert.Equal(t, 1, w.applies, "requests sent")
			}

			live := &corev1.ConfigMap{}
			require.NoError(t, w.api.Get(ctx, client.ObjectKeyFromObject(desired), live))
			assert.Equal(t, desired.Data, live.Data, "the live object matches what is desired")
		})
	}
}

// An object of the same name that is not ours is neither taken over nor changed.
func TestApplyRefusesAForeignObject(t *testing.T) {
	ctx := context.Background()
	foreign := configMap("config", map[string]string{"app": "theirs"}, map[string]string{"key": "theirs"})
	w := newWorld(t, foreign.DeepCopy())

	_, err := w.applier.Apply(ctx, configMap("config", nil, map[string]string{"key": "ours"}))
	var notOurs *NotOursError
	require.ErrorAs(t, err, &notOurs)
	assert.Equal(t, "ConfigMap", notOurs.Kind)
	assert.Equal(t, "ns/config", notOurs.Name)
	assert.Zero(t, w.applies)

	live := &corev1.ConfigMap{}
	require.NoError(t, w.api.Get(ctx, client.ObjectKeyFromObject(foreign), live))
	assert.Equal(t, foreign.Data, live.Data)
	assert.Equal(t, foreign.Labels, live.Labels)
}

// The managed-by label comes from the field owner, whatever the builder set, on the object and on a
// workload's pods.
func TestApplyLabelsObjectsWithTheirOwner(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	podLabels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{names.LabelManagedBy: "someone-else"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: podLabels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}}}}
	for _, obj := range []client.Object{configMap("config", nil, nil), deploy} {
		_, err := w.applier.Apply(ctx, obj)
		require.NoError(t, err)
	}

	cm := &corev1.ConfigMap{}
	require.NoError(t, w.api.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "config"}, cm))
	assert.Equal(t, owner, cm.Labels[names.LabelManagedBy])
	live := &appsv1.Deployment{}
	require.NoError(t, w.api.Get(ctx, client.ObjectKeyFromObject(deploy), live))
	assert.Equal(t, owner, live.Labels[names.LabelManagedBy])
	assert.Equal(t, map[string]string{"app": "web", names.LabelManagedBy: owner}, live.Spec.Template.Labels)
	assert.Equal(t, map[string]string{"app": "web"}, podLabels, "the desired object is not modified")
}

func TestPruneDeletesOnlyOurUnwantedObjects(t *testing.T) {
	ctx := context.Background()
	ours := func(instance string) map[string]string {
		return map[string]string{names.LabelManagedBy: owner, names.LabelInstance: instance}
	}
	wanted := configMap("wanted", ours("a"), nil)
	terminating := configMap("terminating", ours("a"), nil)
	terminating.Finalizers = []string{"test/keep"}
	terminating.DeletionTimestamp = &metav1.Time{}
	w := newWorld(t,
		wanted,
		terminating,
		configMap("unwanted", ours("a"), nil),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unwanted-secret", Namespace: "ns", Labels: ours("a")}},
		configMap("foreign", map[string]string{names.LabelInstance: "a"}, nil),
		configMap("other-owner", map[string]string{names.LabelManagedBy: "someone-else", names.LabelInstance: "a"}, nil),
		configMap("other-instance", ours("b"), nil),
	)
	keep := map[string]bool{Key(corev1.SchemeGroupVersion.WithKind("ConfigMap"), wanted): true}

	remaining, err := w.applier.Prune(ctx, []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}},
		client.MatchingLabels{names.LabelInstance: "a"}, keep)
	require.NoError(t, err)
	assert.Equal(t, 3, remaining, "the two deleted now and the one already terminating")

	var configMaps corev1.ConfigMapList
	require.NoError(t, w.api.List(ctx, &configMaps))
	var left []string
	for _, cm := range configMaps.Items {
		left = append(left, cm.Name)
	}
	assert.ElementsMatch(t, []string{"wanted", "terminating", "foreign", "other-owner", "other-instance"}, left)
	err = w.api.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "unwanted-secret"}, &corev1.Secret{})
	assert.True(t, apierrors.IsNotFound(err), "every listed kind is pruned: %v", err)
}

// What of a live object makes the next Apply send again: its spec (generation) and metadata for a kind with a
// generation, not its status; anything, for a kind without one.
func TestLiveVersion(t *testing.T) {
	daemonSet := func(edit func(*appsv1.DaemonSet)) client.Object {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "node", Namespace: "ns", Generation: 3, ResourceVersion: "100",
			Labels: map[string]string{names.LabelManagedBy: owner}}}
		edit(ds)
		return ds
	}
	config := func(rv string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: "ns", ResourceVersion: rv}}
	}
	base := daemonSet(func(*appsv1.DaemonSet) {})
	cases := []struct {
		name   string
		before client.Object
		after  client.Object
		same   bool
	}{
		{"a status update", base, daemonSet(func(ds *appsv1.DaemonSet) { ds.ResourceVersion = "101"; ds.Status.NumberReady = 5 }), true},
		{"a spec edit", base, daemonSet(func(ds *appsv1.DaemonSet) { ds.ResourceVersion = "101"; ds.Generation = 4 }), false},
		{"a label edited", base, daemonSet(func(ds *appsv1.DaemonSet) { ds.ResourceVersion = "101"; ds.Labels["x"] = "y" }), false},
		{"an annotation added", base, daemonSet(func(ds *appsv1.DaemonSet) { ds.Annotations = map[string]string{"x": "y"} }), false},
		{"an owner reference dropped", daemonSet(func(ds *appsv1.DaemonSet) {
			ds.OwnerReferences = []metav1.OwnerReference{{Kind: "StorageOSCluster", Name: "c", UID: "u"}}
		}), base, false},
		{"deleted and created again", base, daemonSet(func(ds *appsv1.DaemonSet) { ds.UID = "another" }), false},
		{"deleted", base, daemonSet(func(ds *appsv1.DaemonSet) { now := metav1.Now(); ds.DeletionTimestamp = &now }), false},
		{"no generation: unchanged", config("7"), config("7"), true},
		{"no generation: any update", config("7"), config("8"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := liveVersion(tc.before)
			require.NoError(t, err)
			after, err := liveVersion(tc.after)
			require.NoError(t, err)
			assert.Equal(t, tc.same, before == after)
		})
	}
}
