//go:build !mutation

package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

var podCount atomic.Int32

// world creates what the decision looks at: a StorageOS and another StorageClass, a StorageOSCluster, and a
// namespace with a StorageOS PVC "data", another PVC "other", and a PVC "static" of no class bound to a
// StorageOS CSI volume (static provisioning). It returns the namespace.
func world(t *testing.T, disableScheduler bool) string {
	t.Helper()
	ctx := context.Background()
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "storageos-fast"}, Provisioner: "csi.storageos.com"},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-fast"}, Provisioner: "ebs.csi.aws.com"},
	} {
		require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(ctx, sc)))
	}
	clusterNS := testEnv.CreateNamespace(t)
	c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Name: "storageos", Namespace: clusterNS},
		Spec: storageosv1.StorageOSClusterSpec{SecretRefName: "api", SecretRefNamespace: "default", DisableScheduler: disableScheduler}}
	require.NoError(t, testEnv.Client.Create(ctx, c))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, c) })
	// As the cluster-manager reports it once the scheduler runs.
	c.Status.Conditions = []metav1.Condition{{Type: schedulerwebhook.SchedulerReadyCondition, Status: metav1.ConditionTrue,
		Reason: "Ready", Message: "1/1 storageos-scheduler replicas ready", LastTransitionTime: metav1.Now()}}
	require.NoError(t, testEnv.Client.Status().Update(ctx, c))

	ns := testEnv.CreateNamespace(t)
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "static-" + ns}, Spec: corev1.PersistentVolumeSpec{
		Capacity: size, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "csi.storageos.com", VolumeHandle: ns}}}}
	require.NoError(t, testEnv.Client.Create(ctx, pv))
	t.Cleanup(func() { _ = testEnv.Client.Delete(ctx, pv) })
	for name, class := range map[string]string{"data": "storageos-fast", "other": "other-fast", "static": ""} {
		pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: size}}}
		if class == "" {
			pvc.Spec.VolumeName = pv.Name
		}
		require.NoError(t, testEnv.Client.Create(ctx, pvc))
	}
	// The webhook decides from its cache: wait until it has seen this world.
	require.Eventually(t, func() bool {
		seen := func(claim string) bool {
			return createPod(t, ns, claim, nil).Spec.SchedulerName == schedulerwebhook.SchedulerName
		}
		return disableScheduler || (seen("data") && seen("static"))
	}, timeout, tick)
	return ns
}

// createPod creates a pod using the named claim and returns it as the API server stored it.
func createPod(t *testing.T, ns, claim string, mutate func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%d", podCount.Add(1)), Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}},
		},
	}
	if mutate != nil {
		mutate(pod)
	}
	require.NoError(t, testEnv.Client.Create(context.Background(), pod), "pod creation is never blocked")
	return pod
}

func TestPodsWithStorageOSVolumesGoToTheStorageOSScheduler(t *testing.T) {
	ns := world(t, false)
	cases := []struct {
		name      string
		claim     string
		mutate    func(*corev1.Pod)
		scheduler string
	}{
		{"StorageOS PVC", "data", nil, schedulerwebhook.SchedulerName},
		{"other PVC", "other", nil, corev1.DefaultSchedulerName},
		{"PVC of no class bound to a StorageOS volume", "static", nil, schedulerwebhook.SchedulerName},
		{"PVC not created yet", "later", nil, corev1.DefaultSchedulerName},
		{"opted out", "data", func(p *corev1.Pod) { p.Annotations = map[string]string{"storageos.com/scheduler": "false"} }, corev1.DefaultSchedulerName},
		{"explicit other scheduler", "data", func(p *corev1.Pod) { p.Spec.SchedulerName = "volcano" }, "volcano"},
		{"generic ephemeral StorageOS volume", "unused", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
					StorageClassName: ptr.To("storageos-fast"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}}}
		}, schedulerwebhook.SchedulerName},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.scheduler, createPod(t, ns, tc.claim, tc.mutate).Spec.SchedulerName)
		})
	}
}

func TestDisableSchedulerLeavesPodsAlone(t *testing.T) {
	ns := world(t, true)
	assert.Equal(t, corev1.DefaultSchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName)
}

func TestOptedOutNamespaceIsNotAsked(t *testing.T) {
	ns := world(t, false)
	nsObj := &corev1.Namespace{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKey{Name: ns}, nsObj))
	nsObj.Labels["storageos.com/scheduler-webhook"] = "disabled"
	require.NoError(t, testEnv.Client.Update(context.Background(), nsObj))
	// The API server matches namespaceSelector against its own informer of namespaces, which sees the new
	// label a moment later.
	assert.Eventually(t, func() bool {
		return createPod(t, ns, "data", nil).Spec.SchedulerName == corev1.DefaultSchedulerName
	}, timeout, tick, "pods in a namespace that opted out are not sent to the webhook")
}

// Admissions are answered from the webhook's caches: no request reaches the API server.
func TestAdmissionsCostNoAPICalls(t *testing.T) {
	ns := world(t, false)
	requests.Reset()
	for range 20 {
		require.Equal(t, schedulerwebhook.SchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName)
	}
	assert.Zero(t, requests.Reads(), "reads by the webhook")
	assert.Zero(t, requests.Writes(), "writes by the webhook")
}

// failurePolicy: Ignore — with the webhook unreachable, pods are still created, unmodified.
func TestPodsAreCreatedWhenTheWebhookIsDown(t *testing.T) {
	ctx := context.Background()
	ns := world(t, false)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Name: "storageos-scheduler-webhook"}, cfg))
	url := *cfg.Webhooks[0].ClientConfig.URL
	cfg.Webhooks[0].ClientConfig.URL = ptr.To("https://127.0.0.1:1/mutate-pods")
	require.NoError(t, testEnv.Client.Update(ctx, cfg))
	t.Cleanup(func() {
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(cfg), cfg))
		cfg.Webhooks[0].ClientConfig.URL = &url
		require.NoError(t, testEnv.Client.Update(ctx, cfg))
	})
	// The API server picks up the changed configuration from its informer a moment later; every pod in
	// between is created too (createPod requires it).
	assert.Eventually(t, func() bool {
		return createPod(t, ns, "data", nil).Spec.SchedulerName == corev1.DefaultSchedulerName
	}, timeout, tick, "with the webhook unreachable, pods are created unmodified")
}

// A cluster whose scheduler is not running (yet) must not attract pods: they would stay Pending.
func TestNoPodGoesToASchedulerThatIsNotRunning(t *testing.T) {
	ns := world(t, false)
	var list storageosv1.StorageOSClusterList
	require.NoError(t, testEnv.Client.List(context.Background(), &list))
	for i := range list.Items {
		c := &list.Items[i]
		c.Status.Conditions[0].Status = metav1.ConditionFalse
		require.NoError(t, testEnv.Client.Status().Update(context.Background(), c))
		t.Cleanup(func() {
			_ = testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), c)
			c.Status.Conditions[0].Status = metav1.ConditionTrue
			_ = testEnv.Client.Status().Update(context.Background(), c)
		})
	}
	require.Eventually(t, func() bool {
		return createPod(t, ns, "data", nil).Spec.SchedulerName == corev1.DefaultSchedulerName
	}, timeout, tick)
}

// skippedAdmissions is how many admissions the in-process webhook answered without a change.
func skippedAdmissions(t *testing.T) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "storageos_scheduler_webhook_admissions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "skipped" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A registration without the namespaceSelector (OLM's, which cannot carry one) asks the webhook about pods in
// a namespace that opted out: the handler itself leaves them alone, and still sends the others' pods.
func TestOptedOutNamespaceIsHonouredByTheHandler(t *testing.T) {
	ctx := context.Background()
	ns := world(t, false)
	quiet := world(t, false)
	nsObj := &corev1.Namespace{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Name: quiet}, nsObj))
	nsObj.Labels[schedulerwebhook.NamespaceOptOutLabel] = schedulerwebhook.NamespaceOptOutValue
	require.NoError(t, testEnv.Client.Update(ctx, nsObj))

	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Name: "storageos-scheduler-webhook"}, cfg))
	selector, conditions := cfg.Webhooks[0].NamespaceSelector, cfg.Webhooks[0].MatchConditions
	cfg.Webhooks[0].NamespaceSelector, cfg.Webhooks[0].MatchConditions = nil, nil
	require.NoError(t, testEnv.Client.Update(ctx, cfg))
	t.Cleanup(func() {
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(cfg), cfg))
		cfg.Webhooks[0].NamespaceSelector, cfg.Webhooks[0].MatchConditions = selector, conditions
		require.NoError(t, testEnv.Client.Update(ctx, cfg))
	})

	// The API server picks up the registration a moment later; once it does, the webhook is asked about the
	// pod in the namespace that opted out (the count of unchanged answers grows) and leaves it unchanged.
	assert.Eventually(t, func() bool {
		before := skippedAdmissions(t)
		pod := createPod(t, quiet, "data", nil)
		assert.Equal(t, corev1.DefaultSchedulerName, pod.Spec.SchedulerName, "a pod in a namespace that opted out is never sent")
		return skippedAdmissions(t) > before
	}, timeout, tick, "the webhook is asked about pods in every namespace")
	assert.Equal(t, schedulerwebhook.SchedulerName, createPod(t, ns, "data", nil).Spec.SchedulerName,
		"pods elsewhere are still sent to the StorageOS scheduler")
}
