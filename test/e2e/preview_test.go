//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
)

// previewUpgrade previews an upgrade to image while the StorageOS applications run beside a bare pod on a
// StorageOS volume: the plan names the applications (with their replicas and claims) and the pod it cannot
// stop, and nothing is paused, pulled or scaled. It then deletes the pod, as a user told so would, and returns
// the previewed upgrade for runUpgrade to start. (A CronJob's pod cannot be held running here: kwok completes
// every Job's pod at once, and a finished pod holds no volume; the plan's tests cover it.)
func previewUpgrade(t *testing.T, image string, apps map[string]int32) *storageosv1.StorageOSUpgrade {
	t.Helper()
	ctx := context.Background()
	bare := storageOSPod(t, "debug")

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
		if wantUnstoppable := []string{"debug None/ [debug]"}; !slices.Equal(unstoppable, wantUnstoppable) {
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
