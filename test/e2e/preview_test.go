//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
)

// previewUpgrade previews an upgrade to image while the StorageOS applications run beside a bare pod and a
// CronJob's pod on StorageOS volumes: the plan names the applications (with their replicas and claims) and the
// two pods it cannot stop with their owners, and nothing is paused, pulled or scaled. It then deletes the pod
// and the CronJob, as a user told so would, and returns the previewed upgrade for runUpgrade to start.
func previewUpgrade(t *testing.T, image string, apps map[string]int32) *storageosv1.StorageOSUpgrade {
	t.Helper()
	ctx := context.Background()
	bare := storageOSPod(t, "debug")
	cron, cronPod := cronJobPod(t, "nightly")

	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: upgradeName(image), Namespace: demo.SampleNamespace},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: storageosv1.ImageReference(image), Preview: true}}
	require.NoError(t, env.Client.Create(ctx, u))
	eventually(t, timeout, "the preview's plan", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		p := u.Status.Plan
		var planned []string
		for _, a := range p.Applications {
			if a.Namespace == appsNamespace {
				planned = append(planned, fmt.Sprintf("%s/%s %d %v", a.Kind, a.Name, a.Replicas, a.Claims))
			}
		}
		var want []string
		for name, replicas := range apps {
			want = append(want, fmt.Sprintf("Deployment/%s %d [%s]", name, replicas, name))
		}
		slices.Sort(want)
		if !slices.Equal(planned, want) {
			return fmt.Errorf("applications %v, want %v", planned, want)
		}
		var unstoppable []string
		for _, pod := range p.UnstoppablePods {
			unstoppable = append(unstoppable, fmt.Sprintf("%s %s/%s %v", pod.Name, pod.OwnerKind, pod.OwnerName, pod.Claims))
		}
		wantUnstoppable := []string{"debug None/ [debug]", cronPod + " CronJob/nightly [nightly]"}
		slices.Sort(wantUnstoppable)
		if !slices.Equal(unstoppable, wantUnstoppable) {
			return fmt.Errorf("unstoppable pods %v, want %v", unstoppable, wantUnstoppable)
		}
		if p.Summary.Nodes != 3 || p.ToImage != image || len(p.Warnings) == 0 {
			return fmt.Errorf("nodes %d, to %s, warnings %v", p.Summary.Nodes, p.ToImage, p.Warnings)
		}
		return nil
	})
	require.Equal(t, storageosv1.UpgradePhasePending, u.Status.Phase, "a preview does not start")
	c, err := sampleCluster(ctx)
	require.NoError(t, err)
	require.False(t, c.Spec.Pause, "a preview pauses nothing")
	require.False(t, env.Simulator.Maintenance(), "a preview enables no maintenance mode")
	out, err := env.Kubectl(ctx, "get", "storageosupgrade", u.Name, "-n", u.Namespace)
	require.NoError(t, err)
	t.Logf("kubectl get storageosupgrade during the preview:\n%s", out)

	// What the plan says it cannot stop, the user stops.
	require.NoError(t, env.Client.Delete(ctx, bare))
	require.NoError(t, env.Client.Delete(ctx, cron, client.PropagationPolicy(metav1.DeletePropagationBackground)))
	eventually(t, timeout, "no pod the upgrade cannot stop in the plan", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if n := u.Status.Plan.Summary.UnstoppablePods; n != 0 {
			return fmt.Errorf("%d unstoppable pods", n)
		}
		return nil
	})
	return u
}

// storageOSPod creates a pod of no owner mounting a StorageOS claim of its own, and waits until it runs.
func storageOSPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	pvc, d := demo.StorageOSApp(appsNamespace, name, 1)
	require.NoError(t, env.Client.Create(context.Background(), pvc))
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appsNamespace}, Spec: d.Spec.Template.Spec}
	require.NoError(t, env.Client.Create(context.Background(), pod))
	eventually(t, timeout, "pod "+name+" running", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("pod is %s", pod.Status.Phase)
		}
		return nil
	})
	return pod
}

// cronJobPod creates a CronJob mounting a StorageOS claim of its own, and runs it now as `kubectl create job
// --from=cronjob/…` does (a Job it controls). kwok holds the Job's pod running for a day (its
// pod-complete.stage.kwok.x-k8s.io annotations), as a long backup would. It waits until the pod runs and
// returns the CronJob and the pod's name.
func cronJobPod(t *testing.T, name string) (*batchv1.CronJob, string) {
	t.Helper()
	ctx := context.Background()
	pvc, d := demo.StorageOSApp(appsNamespace, name, 1)
	require.NoError(t, env.Client.Create(ctx, pvc))
	template := *d.Spec.Template.DeepCopy()
	template.Labels = map[string]string{"job": name}
	template.Annotations = map[string]string{"pod-complete.stage.kwok.x-k8s.io/delay": "24h", "pod-complete.stage.kwok.x-k8s.io/jitter-delay": "24h"}
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: appsNamespace}, Spec: batchv1.CronJobSpec{
		Schedule: "0 3 1 1 *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}}
	require.NoError(t, env.Client.Create(ctx, cron))
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name + "-manual", Namespace: appsNamespace,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cron, batchv1.SchemeGroupVersion.WithKind("CronJob"))}},
		Spec: *cron.Spec.JobTemplate.Spec.DeepCopy()}
	require.NoError(t, env.Client.Create(ctx, job))
	var pod string
	eventually(t, timeout, "the CronJob's pod running", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(appsNamespace), client.MatchingLabels{"job": name}); err != nil {
			return err
		}
		if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("%d pods: %v", len(pods.Items), pods.Items)
		}
		pod = pods.Items[0].Name
		return nil
	})
	return cron, pod
}
