//go:build !mutation

package upgrade_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// controllerRef is the controller owner reference to obj, as its controller would set it on what it creates.
func controllerRef(apiVersion, kind string, obj metav1.Object) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// ownedPod creates a pod mounting claim, controlled by owner (none when nil). Its labels match no application
// of the world, so the fake controllers leave it alone.
func ownedPod(t testing.TB, w *world, name, claim string, owner *metav1.OwnerReference) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.appNS, Labels: map[string]string{"stray": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}, Volumes: []corev1.Volume{pvcVolume(claim)}}}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	require.NoError(t, testEnv.Client.Create(context.Background(), pod))
	return pod
}

func create(t testing.TB, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		require.NoError(t, testEnv.Client.Create(context.Background(), obj))
	}
}

// hpa is a HorizontalPodAutoscaler of a Deployment or StatefulSet of the world. minReplicas 0 is allowed (beta
// HPAScaleToZero) with an object metric only, which is what it has.
func hpa(ns, name string, target storageosv1.WorkloadKind, targetName string, minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: string(target), Name: targetName},
			MinReplicas:    minReplicas, MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
				DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Service", Name: targetName},
				Metric:          autoscalingv2.MetricIdentifier{Name: "requests"},
				Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("100"))},
			}}},
		}}
}

// The plan, on a real API server, names every pod on a StorageOS volume the upgrade cannot stop, with the
// owner the user manages and why: a bare pod, a Job's, a CronJob's (through its Job), a DaemonSet's, a bare
// ReplicaSet's, another operator's, one whose ReplicaSet is gone, one of a Deployment scaled to zero. Finished
// pods and pods on other storage are not in it. Autoscalers of the applications it scales down are reported:
// minReplicas 0 blocks, any other does not. The plan follows the cluster while previewing, and once started the
// upgrade waits on what blocks, naming both kinds, until the risk is accepted.
func TestThePlanNamesEveryPodTheUpgradeCannotStop(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	startManager(t, managerOptions{})
	ns := w.appNS

	jobSpec := func() batchv1.JobSpec { // a fresh one each time: creating a Job defaults its spec in place
		return batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "backup", Image: "busybox"}}}}}
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "backup", Namespace: ns}, Spec: jobSpec()}
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: ns}, Spec: batchv1.CronJobSpec{
		Schedule: "0 2 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec()}}}
	agent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns}, Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent")}}
	bareRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns}, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bare"}}, Template: podTemplate("bare")}}
	create(t, job, cron, agent, bareRS)
	cronRun := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "nightly-29000000", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{controllerRef("batch/v1", "CronJob", cron)}}, Spec: jobSpec()}
	idle := &appsv1.Deployment{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "idle"}, idle))
	idleRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "idle-old", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{controllerRef("apps/v1", "Deployment", idle)}}, Spec: appsv1.ReplicaSetSpec{
		Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "idle-old"}}, Template: podTemplate("idle-old")}}
	create(t, cronRun, idleRS)

	gone := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-gone", UID: "00000000-0000-0000-0000-000000000001", Controller: ptr.To(true)}
	rollout := metav1.OwnerReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "canary", UID: "00000000-0000-0000-0000-000000000002", Controller: ptr.To(true)}
	ownedPod(t, w, "a-debug", "web-data", nil)
	ownedPod(t, w, "b-backup", "web-data", ptr.To(controllerRef("batch/v1", "Job", job)))
	ownedPod(t, w, "c-nightly", "web-data", ptr.To(controllerRef("batch/v1", "Job", cronRun)))
	agentPod := ownedPod(t, w, "d-agent", "web-data", ptr.To(controllerRef("apps/v1", "DaemonSet", agent)))
	ownedPod(t, w, "e-bare", "web-data", ptr.To(controllerRef("apps/v1", "ReplicaSet", bareRS)))
	ownedPod(t, w, "f-canary", "web-data", &rollout)
	ownedPod(t, w, "g-gone", "web-data", &gone)
	ownedPod(t, w, "h-idle", "idle-data", ptr.To(controllerRef("apps/v1", "ReplicaSet", idleRS)))
	// Not in the plan: a finished pod, and a pod on another storage class.
	finished := ownedPod(t, w, "x-finished", "web-data", nil)
	finished.Status.Phase = corev1.PodSucceeded
	require.NoError(t, testEnv.Client.Status().Update(ctx, finished))
	ownedPod(t, w, "y-cache", "cache-data", nil)

	create(t, hpa(ns, "web", storageosv1.WorkloadKindDeployment, "web", ptr.To[int32](0)),
		hpa(ns, "db", storageosv1.WorkloadKindStatefulSet, "db", nil),
		hpa(ns, "cache", storageosv1.WorkloadKindDeployment, "cache", ptr.To[int32](0))) // cache is not StorageOS's: not in the plan

	u := createUpgradeSpec(t, w.cluster.Namespace, storageosv1.StorageOSUpgradeSpec{NewImage: newImage, Preview: true})
	require.Eventually(t, func() bool {
		s := get(t, u).Status.Plan.Summary
		return s.UnstoppablePods == 8 && s.Autoscalers == 2
	}, timeout, tick, "the preview's plan: %+v", get(t, u).Status.Plan)
	plan := get(t, u).Status.Plan
	unstoppable := func(name, kind, owner string, reason storageosv1.UnstoppableReason, claim string) storageosv1.UnstoppablePod {
		return storageosv1.UnstoppablePod{Namespace: ns, Name: name, OwnerKind: kind, OwnerName: owner, Reason: reason, Claims: []string{claim}}
	}
	assert.Equal(t, []storageosv1.UnstoppablePod{
		unstoppable("a-debug", "None", "", storageosv1.UnstoppableNoOwner, "web-data"),
		unstoppable("b-backup", "Job", "backup", storageosv1.UnstoppableJob, "web-data"),
		unstoppable("c-nightly", "CronJob", "nightly", storageosv1.UnstoppableCronJob, "web-data"),
		unstoppable("d-agent", "DaemonSet", "agent", storageosv1.UnstoppableDaemonSet, "web-data"),
		unstoppable("e-bare", "ReplicaSet", "bare", storageosv1.UnstoppableOtherOwner, "web-data"),
		unstoppable("f-canary", "Rollout", "canary", storageosv1.UnstoppableOtherOwner, "web-data"),
		unstoppable("g-gone", "ReplicaSet", "web-gone", storageosv1.UnstoppableOwnerNotFound, "web-data"),
		unstoppable("h-idle", "Deployment", "idle", storageosv1.UnstoppableOwnerNotScaled, "idle-data"),
	}, plan.UnstoppablePods)
	assert.Equal(t, []storageosv1.PlannedAutoscaler{
		{Namespace: ns, Name: "db", TargetKind: storageosv1.WorkloadKindStatefulSet, TargetName: "db", MinReplicas: 1, Handling: storageosv1.AutoscalerHandlingNone},
		{Namespace: ns, Name: "web", TargetKind: storageosv1.WorkloadKindDeployment, TargetName: "web", MinReplicas: 0, Handling: storageosv1.AutoscalerHandlingBlocks},
	}, plan.Autoscalers)
	assert.Equal(t, storageosv1.PlanSummary{Applications: 3, UnstoppablePods: 8, Autoscalers: 2, BlockingAutoscalers: 1,
		Nodes: int32(len(w.nodes))}, plan.Summary)
	assert.Equal(t, "preview: 3 applications to scale down, 8 pods it cannot stop, 1 blocking autoscaler, 3 nodes; "+
		"set spec.preview to false to start", progressing(t, u).Message)
	got := get(t, u)
	assert.Equal(t, storageosv1.UpgradeProgress{Applications: 3, Nodes: 3, ApplicationsSummary: "0/3", NodesSummary: "0/3",
		Message: "3 applications to scale down, 3 nodes to upgrade"}, got.Status.Progress, "kubectl get shows what it will do")

	// While previewing, the plan follows the cluster: idle scaled up joins the applications, and its old pod is
	// then stopped with it; the DaemonSet's pod is gone. Idle scaled back to zero, its old pod is unstoppable
	// again.
	require.NoError(t, testEnv.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: idle.ObjectMeta},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":1}}`))))
	require.NoError(t, testEnv.Client.Delete(ctx, agentPod))
	require.Eventually(t, func() bool {
		s := get(t, u).Status.Plan.Summary
		return s.Applications == 4 && s.UnstoppablePods == 6
	}, timeout, tick, "the plan follows the cluster: %+v", get(t, u).Status.Plan.Summary)
	assert.Contains(t, applicationNames(get(t, u).Status.Plan), "Deployment/idle")
	require.NoError(t, testEnv.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: idle.ObjectMeta},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"replicas":0}}`))))
	require.Eventually(t, func() bool {
		s := get(t, u).Status.Plan.Summary
		return s.Applications == 3 && s.UnstoppablePods == 7 && w.appsReady(allApps)
	}, timeout, tick, "idle scaled back to zero: %+v", get(t, u).Status.Plan.Summary)
	assertPending(t, w, u)

	// Started, it waits on the pods and the autoscaler, naming both and the field that accepts the risk.
	require.NoError(t, testEnv.Client.Patch(ctx, &storageosv1.StorageOSUpgrade{ObjectMeta: u.ObjectMeta},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"preview":false}}`))))
	require.Eventually(t, func() bool { return progressing(t, u).Reason == upgrade.ReasonUnstoppablePods }, timeout, tick)
	message := progressing(t, u).Message
	for _, want := range []string{"7 pods using StorageOS volumes cannot be stopped", ns + "/a-debug (no owner)",
		ns + "/c-nightly (CronJob nightly)", "and 2 more", "1 HorizontalPodAutoscaler with minReplicas 0 could start its application again",
		ns + "/web (of Deployment web)", upgrade.AcceptField} {
		assert.Contains(t, message, want)
	}
	assertPending(t, w, u)

	// Accepted, it runs.
	require.NoError(t, testEnv.Client.Patch(ctx, &storageosv1.StorageOSUpgrade{ObjectMeta: u.ObjectMeta},
		client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"acceptUnstoppablePods":true}}`))))
	waitPhase(t, u, storageosv1.UpgradePhaseCompleted)
	assert.NotContains(t, progressing(t, u).Message, upgrade.AcceptField)
	deleteUpgrade(t, u)
	assertReleased(t, w)
}
