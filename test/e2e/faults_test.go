//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/names"
)

// A standby takes the Lease at most a lease duration after the leader's last renewal, noticing on its next
// retry (client-go jitters the retry period by up to 1.2 times); allow that and this test's polling.
var takeoverBound = func() time.Duration {
	o := manager.NewOptions("", "")
	return o.LeaseDuration + o.RetryPeriod*22/10 + 3*time.Second
}()

// leaderOf waits until binary has a leader and returns it with its Lease.
func leaderOf(t *testing.T, binary string) (*demo.Manager, *coordinationv1.Lease) {
	t.Helper()
	var leader *demo.Manager
	lease := &coordinationv1.Lease{}
	eventually(t, timeout, binary+" has a leader", func(ctx context.Context) (err error) {
		if leader, err = env.Leader(ctx, binary); err != nil {
			return err
		}
		return env.Client.Get(ctx, client.ObjectKey{Namespace: demo.Namespace, Name: binary + ".storageos.com"}, lease)
	})
	return leader, lease
}

// killLeader SIGKILLs the process leading binary, waits for the standby to take the Lease and starts the
// killed process again (as a kubelet would restart its container). It returns the takeover time.
func killLeader(t *testing.T, binary string) time.Duration {
	t.Helper()
	leader, lease := leaderOf(t, binary)
	leader.Kill()
	return takeOver(t, binary, leader, lease)
}

// takeOver waits, after leader was killed holding lease, for another process to take the Lease, and restarts
// the killed one.
func takeOver(t *testing.T, binary string, leader *demo.Manager, lease *coordinationv1.Lease) time.Duration {
	t.Helper()
	killed := time.Now()
	var next *demo.Manager
	// Polled often: the new leader goes on at once, and the upgrade test must see its next step while it runs.
	eventuallyEvery(t, timeout, 20*time.Millisecond, "a standby "+binary+" leads", func(ctx context.Context) (err error) {
		next, err = env.Leader(ctx, binary)
		return err
	})
	takeover := time.Since(killed)
	require.NotSame(t, leader, next)
	// Started again at once but not waited for: the new leader goes on meanwhile, and the next step must be
	// seen while it runs. allManagersReady checks the restarted processes later.
	require.NoError(t, leader.Restart())
	after := &coordinationv1.Lease{}
	require.NoError(t, env.Client.Get(context.Background(), client.ObjectKeyFromObject(lease), after))
	require.NotEqual(t, *lease.Spec.HolderIdentity, *after.Spec.HolderIdentity, "the Lease changed hands")
	require.Greater(t, ptr.Deref(after.Spec.LeaseTransitions, 0), ptr.Deref(lease.Spec.LeaseTransitions, 0))
	t.Logf("FAULT %s leader %s SIGKILLed: %s took the Lease after %s", binary, leader.Name, next.Name, takeover.Round(100*time.Millisecond))
	require.LessOrEqual(t, takeover, takeoverBound, "takeover within the lease duration")
	return takeover
}

// allManagersReady: every process of every binary runs and is ready, and exactly one of each leader-elected
// binary leads.
func allManagersReady(t *testing.T) {
	t.Helper()
	for b, ms := range env.Managers {
		for _, m := range ms {
			eventually(t, timeout, m.Name+" ready", m.Ready)
		}
		if b != "scheduler-webhook" {
			eventually(t, timeout, b+" has one leader", func(ctx context.Context) error { _, err := env.Leader(ctx, b); return err })
		}
	}
}

// The cluster-manager leader is killed right after a spec edit, before it can have finished it (StorageOS
// answers slowly): the standby finishes it.
func testClusterManagerLeaderKilled(t *testing.T) {
	leader, lease := leaderOf(t, "cluster-manager")
	env.Simulator.SetLatency(2 * time.Second)
	defer env.Simulator.SetLatency(0)
	patchCluster(t, `{"spec":{"debug":false}}`)
	leader.Kill()
	require.Equal(t, "debug", env.Simulator.Cluster().LogLevel, "the killed leader had not finished the edit")
	takeOver(t, "cluster-manager", leader, lease)
	eventually(t, timeout, "the edit applied by the new leader", func(ctx context.Context) error {
		if level := env.Simulator.Cluster().LogLevel; level != "info" {
			return fmt.Errorf("StorageOS log level %q", level)
		}
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: string(c.Spec.Namespace), Name: names.NodeConfigMap}, cm); err != nil {
			return err
		}
		if cm.Data["LOG_LEVEL"] != "info" {
			return fmt.Errorf("node config LOG_LEVEL %q", cm.Data["LOG_LEVEL"])
		}
		return env.ClusterReady(ctx, "3/3")
	})
	allManagersReady(t)
}

// The job-manager leader is killed right after a Job is created, before its pods can have run: the standby
// runs it to completion.
func testJobManagerLeaderKilled(t *testing.T) {
	ctx := context.Background()
	leader, lease := leaderOf(t, "job-manager")
	job := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "cleanup-again", Namespace: "default"},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", Args: []string{"/var/lib/storageos"},
			HostPath: "/var/lib", MountPath: "/var/lib", CompletionWord: "done"}}
	require.NoError(t, env.Client.Create(ctx, job))
	leader.Kill()
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(job), job))
	require.False(t, job.Status.Completed, "the killed leader had not finished the job")
	takeOver(t, "job-manager", leader, lease)
	eventually(t, timeout, "the job completed by the new leader", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(job), job); err != nil {
			return err
		}
		if !job.Status.Completed || job.Status.NodesCompleted != 3 {
			return fmt.Errorf("completed %v, %d nodes", job.Status.Completed, job.Status.NodesCompleted)
		}
		return nil
	})
	require.NoError(t, env.Client.Delete(ctx, job))
	allManagersReady(t)
}

// holdFinalizer keeps a deleted pod Terminating until the test removes it.
const holdFinalizer = "e2e.storageos.com/hold"

// A second upgrade, with the leading upgrade-manager SIGKILLed as soon as each step is seen: every step is
// resumed by the standby and the upgrade ends with every app back. Three steps are too quick on simulated nodes
// to be seen while they run, so they are held: StorageOS answers slowly (1 s a call) during pausing and
// maintenance mode, web's pods carry a finalizer the test removes only after the kill in ScalingDown, the node
// pods carry it until the kill in Upgrading (a replaced node pod stays Terminating, as one whose volumes take
// time to unmount), and web's pods cannot be scheduled (a node selector no node matches, set while it is scaled
// down, as a user might) until the kill in ScalingUp. Without the holds, a step can pass entirely while the
// test waits for the standby to take over after the kill in the step before.
func testUpgradeManagerKilledAtEveryStep(t *testing.T) {
	ctx := context.Background()
	var apps []*appsv1.Deployment
	for name := range upgradeApps {
		apps = append(apps, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}})
	}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: "web"}}
	setHold := func(on bool) {
		patch := `{"spec":{"template":{"metadata":{"finalizers":null}}}}`
		if on {
			patch = `{"spec":{"template":{"metadata":{"finalizers":["` + holdFinalizer + `"]}}}}`
		}
		require.NoError(t, env.Client.Patch(ctx, web, client.RawPatch("application/merge-patch+json", []byte(patch))))
		eventually(t, timeout, "web rolled", func(ctx context.Context) error { return deploymentReady(ctx, web, upgradeApps["web"]) })
	}
	setHold(true)
	unschedulable := func(on bool) {
		patch := `{"spec":{"template":{"spec":{"nodeSelector":null}}}}`
		if on {
			patch = `{"spec":{"template":{"spec":{"nodeSelector":{"` + holdFinalizer + `":"true"}}}}}`
		}
		require.NoError(t, env.Client.Patch(ctx, web, client.RawPatch("application/merge-patch+json", []byte(patch))))
	}
	releaseFrom := make(chan struct{})
	startReleasing := sync.OnceFunc(func() { close(releaseFrom) })
	stop := make(chan struct{})
	stopped := make(chan struct{})
	holdNodePods(t, true)
	defer func() {
		// Back to pods without the finalizer; the old ones are let go as they are deleted.
		startReleasing()
		holdNodePods(t, false)
		unschedulable(false)
		setHold(false)
		close(stop)
		<-stopped
	}()
	go func() {
		// After the kill in ScalingDown (and until the end), terminating pods are let go, as a kubelet would once
		// their containers stopped.
		defer close(stopped)
		<-releaseFrom
		for {
			releaseTerminatingPods(ctx)
			select {
			case <-stop:
				releaseTerminatingPods(ctx)
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	env.Simulator.SetLatency(time.Second)
	defer env.Simulator.SetLatency(0)
	var killedIn []storageosv1.UpgradePhase
	runUpgrade(t, "storageos/node:1.0.1", apps, func(p storageosv1.UpgradePhase) {
		if p == storageosv1.UpgradePhasePending || p == storageosv1.UpgradePhaseCompleted {
			return
		}
		took := killLeader(t, "upgrade-manager")
		killedIn = append(killedIn, p)
		t.Logf("FAULT upgrade-manager killed in %s: resumed after %s", p, took.Round(100*time.Millisecond))
		switch p {
		case storageosv1.UpgradePhaseScalingDown:
			startReleasing()
			unschedulable(true)
		case storageosv1.UpgradePhaseUpgrading:
			holdNodePods(t, false)
		case storageosv1.UpgradePhaseScalingUp:
			unschedulable(false)
		}
	})
	for _, p := range []storageosv1.UpgradePhase{storageosv1.UpgradePhasePullingImage, storageosv1.UpgradePhasePausing,
		storageosv1.UpgradePhaseScalingDown, storageosv1.UpgradePhaseUpgrading, storageosv1.UpgradePhaseScalingUp} {
		require.Contains(t, killedIn, p, "killed in every step; killed in %v", killedIn)
	}
	allManagersReady(t)
}

// holdNodePods adds the hold finalizer to every StorageOS node pod, or removes it from every one that has it.
func holdNodePods(t *testing.T, on bool) {
	t.Helper()
	ctx := context.Background()
	var pods corev1.PodList
	require.NoError(t, env.Client.List(ctx, &pods, client.MatchingLabels(names.NodePodLabels())))
	for i := range pods.Items {
		p := &pods.Items[i]
		held := slices.Contains(p.Finalizers, holdFinalizer)
		if held == on || (on && p.DeletionTimestamp != nil) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		if on {
			p.Finalizers = append(p.Finalizers, holdFinalizer)
		} else {
			p.Finalizers = slices.DeleteFunc(p.Finalizers, func(f string) bool { return f == holdFinalizer })
		}
		require.NoError(t, client.IgnoreNotFound(env.Client.Patch(ctx, p, patch)))
	}
}

// releaseTerminatingPods removes the hold finalizer from the apps' pods being deleted.
func releaseTerminatingPods(ctx context.Context) {
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(appsNamespace)); err != nil {
		return
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil || !slices.Contains(p.Finalizers, holdFinalizer) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		p.Finalizers = slices.DeleteFunc(p.Finalizers, func(f string) bool { return f == holdFinalizer })
		_ = env.Client.Patch(ctx, p, patch)
	}
}

// With every webhook process dead the API server still creates pods (failurePolicy Ignore, 3 s timeout);
// once they are back, pods are mutated again.
func testWebhooksKilled(t *testing.T) {
	ctx := context.Background()
	createNamespace(t, "webhook-down")
	for _, m := range env.Managers["scheduler-webhook"] {
		m.Kill()
	}
	start := time.Now()
	down := storageOSApp(t, "webhook-down", "while-down", 1)
	eventually(t, timeout, "a pod created with no webhook running", func(ctx context.Context) error {
		pods, err := podsOf(ctx, down)
		if err != nil || len(pods) == 0 {
			return errors.Join(err, errors.New("no pod"))
		}
		return nil
	})
	t.Logf("FAULT every webhook process killed: pods still created (%s for the Deployment's first pod)", time.Since(start).Round(100*time.Millisecond))
	for _, m := range env.Managers["scheduler-webhook"] {
		require.NoError(t, m.Restart())
	}
	for _, m := range env.Managers["scheduler-webhook"] {
		eventually(t, timeout, m.Name+" ready again", m.Ready)
	}
	up := storageOSApp(t, "webhook-down", "after-restart", 1)
	eventually(t, timeout, "pods mutated again", func(ctx context.Context) error {
		pods, err := podsOf(ctx, up)
		if err != nil || len(pods) == 0 {
			return errors.Join(err, errors.New("no pod"))
		}
		if pods[0].Spec.SchedulerName != "storageos-scheduler" {
			return fmt.Errorf("scheduler %q", pods[0].Spec.SchedulerName)
		}
		return nil
	})
	require.NoError(t, env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "webhook-down"}}))
}

// The API server crashes and comes back; every manager keeps its process (no exit, no restart) and works afterwards.
func testAPIServerRestarted(t *testing.T) {
	ctx := context.Background()
	pids := map[string]int{}
	for _, ms := range env.Managers {
		for _, m := range ms {
			pids[m.Name] = m.Pid()
		}
	}
	downtime, err := env.Cluster.RestartAPIServer(ctx)
	require.NoError(t, err)
	// A leader that cannot renew its Lease for the renew deadline stops by design (and is restarted); the
	// claim "no restart of their own" holds for outages shorter than that.
	o := manager.NewOptions("", "")
	require.Less(t, downtime, o.RenewDeadline-o.RetryPeriod,
		"the API server took too long to come back for this test's claim; the machine is too slow or overloaded")
	patchCluster(t, `{"spec":{"debug":true}}`)
	eventually(t, timeout, "the cluster-manager acts after the restart", func(context.Context) error {
		if level := env.Simulator.Cluster().LogLevel; level != "debug" {
			return fmt.Errorf("StorageOS log level %q", level)
		}
		return nil
	})
	for _, b := range []string{"cluster-manager", "upgrade-manager", "job-manager"} {
		eventually(t, timeout, b+" has a leader", func(ctx context.Context) error { _, err := env.Leader(ctx, b); return err })
	}
	app := storageOSApp(t, "default", "after-apiserver-restart", 1)
	eventually(t, timeout, "the webhook mutates after the restart", func(ctx context.Context) error {
		pods, err := podsOf(ctx, app)
		if err != nil || len(pods) == 0 || pods[0].Spec.SchedulerName != "storageos-scheduler" {
			return fmt.Errorf("no mutated pod yet (%w)", err)
		}
		return nil
	})
	for _, ms := range env.Managers {
		for _, m := range ms {
			require.False(t, m.Exited(), "%s exited after the API server restart; see %s", m.Name, m.LogPath)
			require.Equal(t, pids[m.Name], m.Pid(), "%s was restarted", m.Name)
		}
	}
	t.Logf("FAULT kube-apiserver restarted (API down %s): all %d manager processes kept running and acted afterwards",
		downtime.Round(100*time.Millisecond), len(pids))
	require.NoError(t, env.Client.Delete(ctx, app))
}

// StorageOS's API stops answering: the cluster reports Degraded, nothing is deleted or restarted, and it
// recovers when the API is back.
func testStorageOSAPIDown(t *testing.T) {
	ctx := context.Background()
	before, err := nodePods(ctx)
	require.NoError(t, err)
	env.Simulator.SetOutage(true)
	start := time.Now()
	eventually(t, timeout, "Degraded with the API unreachable", func(ctx context.Context) error {
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		if cond := condition(c.Status.Conditions, "APIReady"); cond == nil || cond.Reason != "Unreachable" {
			return fmt.Errorf("APIReady %+v", cond)
		}
		if cond := condition(c.Status.Conditions, "Degraded"); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("Degraded %+v", cond)
		}
		return nil
	})
	degradedAfter := time.Since(start)
	out, err := env.Kubectl(ctx, "get", "storageoscluster", "-n", demo.SampleNamespace)
	require.NoError(t, err)
	require.Regexp(t, `3/3\s+Running`, out, "the storage keeps running")
	after, err := nodePods(ctx)
	require.NoError(t, err)
	require.Len(t, after, len(before))
	for node, p := range before {
		require.Equal(t, p.UID, after[node].UID, "node pod on %s deleted while the API was down", node)
	}
	// The alert waits a minute of APIReady False before firing, then Prometheus' next evaluation.
	firedAfter := degradedAfter + eventuallyAlert(t, "StorageOSAPIDown", "firing", 3*time.Minute)
	env.Simulator.SetOutage(false)
	start = time.Now()
	eventually(t, timeout, "recovered", func(ctx context.Context) error {
		c, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		for _, want := range []struct {
			t string
			s metav1.ConditionStatus
		}{{"APIReady", metav1.ConditionTrue}, {"Degraded", metav1.ConditionFalse}} {
			if cond := condition(c.Status.Conditions, want.t); cond == nil || cond.Status != want.s {
				return fmt.Errorf("%s %+v", want.t, cond)
			}
		}
		return nil
	})
	recoveredAfter := time.Since(start)
	resolvedAfter := recoveredAfter + eventuallyAlert(t, "StorageOSAPIDown", "", time.Minute)
	t.Logf("FAULT StorageOS API down: Degraded after %s, alert StorageOSAPIDown firing after %s, 3/3 Running kept, node pods untouched; recovered %s after it returned, alert resolved after %s",
		degradedAfter.Round(100*time.Millisecond), firedAfter.Round(100*time.Millisecond),
		recoveredAfter.Round(100*time.Millisecond), resolvedAfter.Round(100*time.Millisecond))
}
