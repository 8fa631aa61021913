package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/cluster"
	jobpkg "github.com/storageos/cluster-operator/pkg/job"
)

// sampleCluster is the StorageOSCluster the demo applied.
func sampleCluster(ctx context.Context, d *demo.Demo) (*storageosv1.StorageOSCluster, error) {
	c := &storageosv1.StorageOSCluster{}
	return c, d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}, c)
}

// measureCreate reads, from the cluster's own record, how long it took from its creation to Available (Running
// on every node), and the size of its status.
func measureCreate(ctx context.Context, d *demo.Demo, _ Settings, r *Report) error {
	c, err := sampleCluster(ctx, d)
	if err != nil {
		return err
	}
	available := meta.FindStatusCondition(c.Status.Conditions, cluster.ConditionAvailable)
	if available == nil || available.Status != metav1.ConditionTrue {
		return fmt.Errorf("the cluster is not Available: %+v", c.Status.Conditions)
	}
	r.create = available.LastTransitionTime.Sub(c.CreationTimestamp.Time)
	status, err := json.Marshal(c.Status)
	r.ClusterStatusBytes = len(status)
	r.phase("cluster %s Running %s after its creation; its status is %d bytes", c.Status.Ready, r.create, len(status))
	return err
}

func measureDaemonSetFloor(ctx context.Context, d *demo.Demo, _ Settings, r *Report) error {
	c, err := sampleCluster(ctx, d)
	if err != nil {
		return err
	}
	r.phase("floor: a plain DaemonSet of the StorageOS node pod template on the same %d nodes", r.nodes)
	r.daemonSetFloor, err = daemonSetFloor(ctx, d, r, string(c.Spec.Namespace), r.nodes)
	r.phase("floor: plain DaemonSet %d/%d ready after %s", r.nodes, r.nodes, r.daemonSetFloor.Round(100*time.Millisecond))
	return err
}

// quiet is how long no manager may write (Lease renewals apart) for the cluster to count as settled.
const quiet = 15 * time.Second

// measureSettled waits until the managers have settled (no write for a while: the first sync of every node's
// labels, for one, takes a while on a large cluster), then counts each manager's API requests over the
// settled window, from the API server's audit log.
func measureSettled(ctx context.Context, d *demo.Demo, s Settings, r *Report) error {
	start := time.Now()
	err := r.wait(ctx, 30*time.Minute, fmt.Sprintf("no manager write for %s", quiet), func() error {
		now := time.Now()
		if now.Sub(start) < quiet {
			return fmt.Errorf("watching for %s", quiet)
		}
		counts, err := d.OperatorRequests(now.Add(-quiet), now)
		if err != nil {
			return err
		}
		for b, c := range counts {
			if c.Writes > 0 {
				return fmt.Errorf("%s wrote %d times in the last %s: %s", b, c.Writes, quiet, byKind(c.ByKind))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.settling = time.Since(start)
	r.phase("settled: no manager wrote for %s (after %s); counting each manager's API requests for %s", quiet,
		r.settling.Round(time.Second), s.Settled)
	from := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.Settled):
	}
	r.Settled, err = d.OperatorRequests(from, time.Now())
	r.SettledWindow = s.Settled
	return err
}

// createApps creates single-replica Deployments, each on a StorageOS claim of its own that the demo's
// provisioner gives a volume, and waits until they are ready.
func createApps(ctx context.Context, d *demo.Demo, s Settings, r *Report) error {
	r.phase("creating %d StorageOS-backed applications", s.Apps)
	if err := d.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appsNamespace}}); err != nil {
		return err
	}
	start := time.Now()
	for i := range s.Apps {
		name := fmt.Sprintf("app-%04d", i)
		pvc, dep := demo.StorageOSApp(appsNamespace, name, 1)
		for _, obj := range []client.Object{pvc, dep} {
			if err := d.Client.Create(ctx, obj); err != nil {
				return err
			}
		}
		r.appNames = append(r.appNames, name)
	}
	err := r.wait(ctx, 30*time.Minute, "every application ready", func() error { return allReady(ctx, d, s.Apps) })
	r.appsReady = time.Since(start)
	return err
}

// measureWebhookBurst creates burst pods at once (on a StorageOS claim, so the webhook looks the claim up) and
// reads the webhook's p99 latency from the API server's histogram; then deletes them.
func measureWebhookBurst(ctx context.Context, d *demo.Demo, s Settings, r *Report) error {
	before, err := webhookLatency(ctx, d)
	if err != nil {
		return err
	}
	r.phase("scheduler webhook: %d pods created at once", s.Burst)
	_, app := demo.StorageOSApp(appsNamespace, r.appNames[0], 1)
	template := app.Spec.Template.Spec
	var wg sync.WaitGroup
	errs := make(chan error, s.Burst)
	for i := range s.Burst {
		wg.Go(func() {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("burst-%04d", i), Namespace: appsNamespace,
				Labels: map[string]string{"scale": "burst"}}, Spec: template}
			errs <- d.Client.Create(ctx, pod)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return fmt.Errorf("a pod was refused: %w", err)
		}
	}
	after, err := webhookLatency(ctx, d)
	if err != nil {
		return err
	}
	r.webhookP99, r.webhookCalls = quantile(0.99, before, after)
	r.webhookP99 = r.webhookP99.Round(time.Millisecond) // interpolated within a histogram bucket: no finer
	r.phase("scheduler webhook: p99 %s over %d admissions", r.webhookP99, r.webhookCalls)
	burst := client.MatchingLabels{"scale": "burst"}
	if err := d.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(appsNamespace), burst, client.GracePeriodSeconds(0)); err != nil {
		return err
	}
	// Gone before the upgrade: bare pods on StorageOS volumes would hold it back.
	return podsGone(ctx, d, r, "the burst's", client.InNamespace(appsNamespace), burst)
}

// measureCleanupJob runs the seed's cleanup Job on every node: the time from its creation to completed, and
// from the last pod printing its word (ready: the simulated pods print it as they start) to completed.
func measureCleanupJob(ctx context.Context, d *demo.Demo, _ Settings, r *Report) error {
	job := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "scale-cleanup", Namespace: "default"},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", Args: []string{"/var/lib/storageos"},
			MountPath: "/var/lib", HostPath: "/var/lib", CompletionWord: "done"}}
	r.phase("cleanup Job on every node")
	from := time.Now()
	if err := d.Client.Create(ctx, job); err != nil {
		return err
	}
	err := r.wait(ctx, 30*time.Minute, "the cleanup Job completed", func() error {
		if err := d.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		if !job.Status.Completed {
			return fmt.Errorf("%d/%d nodes done", job.Status.NodesCompleted, job.Status.NodesTotal)
		}
		return nil
	})
	if err != nil {
		return err
	}
	complete := meta.FindStatusCondition(job.Status.Conditions, "Complete")
	if complete == nil {
		return fmt.Errorf("no Complete condition: %+v", job.Status.Conditions)
	}
	r.job = complete.LastTransitionTime.Sub(job.CreationTimestamp.Time)
	if r.JobRequests, err = d.OperatorRequests(from, time.Now()); err != nil {
		return err
	}
	var pods corev1.PodList
	if err := d.Client.List(ctx, &pods, client.InNamespace(job.Namespace), client.HasLabels{jobpkg.LabelJob}); err != nil {
		return err
	}
	var lastWord time.Time
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(lastWord) {
				lastWord = c.LastTransitionTime.Time
			}
		}
	}
	r.jobAfterLastWord = complete.LastTransitionTime.Sub(lastWord)
	status, err := json.Marshal(job.Status)
	r.jobStatusBytes = len(status)
	r.phase("cleanup Job completed %s after its creation, %s after the last pod's word; its status is %d bytes",
		r.job, r.jobAfterLastWord, len(status))
	if err != nil {
		return err
	}
	if err := d.Client.Delete(ctx, job); err != nil {
		return err
	}
	// Its pods gone before the upgrade is measured.
	return podsGone(ctx, d, r, "the cleanup Job's", client.InNamespace(job.Namespace), client.HasLabels{jobpkg.LabelJob})
}

// measureUpgrade runs the writes floor, then an offline upgrade of every node with every application scaled
// down and back, counting each manager's requests meanwhile.
func measureUpgrade(ctx context.Context, d *demo.Demo, s Settings, r *Report) error {
	var err error
	if !s.NoFloors {
		writes := 2*s.Apps + r.nodes // a scale down and up per application, a node pod replaced per node
		r.phase("floor: %d writes of the upgrade's kind, one after another", writes)
		if r.writesFloor, err = writesFloor(ctx, d, r, r.appNames, 2, r.nodes); err != nil {
			return err
		}
		r.phase("floor: %d writes in %s", writes, r.writesFloor.Round(100*time.Millisecond))
	}
	r.phase("upgrading every node to storageos/node:1.0.0")
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "scale-upgrade", Namespace: demo.SampleNamespace},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:1.0.0"}}
	from := time.Now()
	if err := d.Client.Create(ctx, u); err != nil {
		return err
	}
	err = r.wait(ctx, 60*time.Minute, "the upgrade completed", func() error {
		if err := d.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if u.Status.Phase == storageosv1.UpgradePhaseFailed {
			return stop{fmt.Errorf("upgrade failed: %+v", u.Status.Conditions)}
		}
		if !u.Status.Completed {
			return fmt.Errorf("phase %s", u.Status.Phase)
		}
		return allReady(ctx, d, s.Apps)
	})
	r.upgrade = time.Since(from)
	if err != nil {
		return err
	}
	r.UpgradeRequests, err = d.OperatorRequests(from, time.Now())
	return err
}

// podsGone waits until no pod the options select is left: a phase's own pods, deleted, must not weigh on the
// next phase's figures.
func podsGone(ctx context.Context, d *demo.Demo, r *Report, whose string, opts ...client.ListOption) error {
	return r.wait(ctx, 30*time.Minute, whose+" pods gone", func() error {
		var pods corev1.PodList
		if err := d.Client.List(ctx, &pods, opts...); err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}

// allReady: every application has its one replica ready.
func allReady(ctx context.Context, d *demo.Demo, apps int) error {
	var list appsv1.DeploymentList
	if err := d.Client.List(ctx, &list, client.InNamespace(appsNamespace)); err != nil {
		return err
	}
	ready := 0
	for _, dep := range list.Items {
		if ptr.Deref(dep.Spec.Replicas, 1) == 1 && dep.Status.ReadyReplicas == 1 && dep.Status.ObservedGeneration == dep.Generation {
			ready++
		}
	}
	if ready != apps {
		return fmt.Errorf("%d of %d applications ready", ready, apps)
	}
	return nil
}
