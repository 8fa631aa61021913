package soak

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

// timeConvergence records, for every fault waiting for it, how long the cluster took to converge.
func (s *soak) timeConvergence(ctx context.Context) {
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending == 0 || s.converged(ctx) != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	// finish may have taken the pending faults while this looked (it times them itself).
	pending = min(pending, len(s.pending))
	// Only the faults that ended before this look: one ending while it ran has not been seen converged.
	for _, p := range s.pending[:pending] {
		s.r.converged(p.kind, now.Sub(p.since))
	}
	s.pending = s.pending[pending:]
	s.mu.Unlock()
}

// converged says what is not yet as it should be: the cluster Running on every node with its spec applied
// (while no upgrade pauses it), every child object present and as the spec says, every leader-elected binary
// led and a webhook ready, the StorageOS API reachable, every application and NFSServer ready.
func (s *soak) converged(ctx context.Context) error {
	c := &storageosv1.StorageOSCluster{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}, c); err != nil {
		return err
	}
	want := fmt.Sprintf("%d/%d", len(s.nodes), len(s.nodes))
	if c.Status.Phase != storageosv1.ClusterPhaseRunning || c.Status.Ready != want {
		return fmt.Errorf("cluster %s %s", c.Status.Phase, c.Status.Ready)
	}
	for _, t := range []string{"Available", "APIReady"} {
		if cond := meta.FindStatusCondition(c.Status.Conditions, t); cond == nil || cond.Status != metav1.ConditionTrue {
			return fmt.Errorf("cluster condition %s not True", t)
		}
	}
	if err := s.managersServing(ctx); err != nil {
		return err
	}
	if err := s.webhookMutates(ctx, c); err != nil {
		return err
	}
	s.mu.Lock()
	upgrading := s.upgrade != "" && !s.preview
	s.mu.Unlock()
	switch {
	case upgrading:
		// The upgrade owns the cluster and the applications until it ends.
		return nil
	case c.Spec.Pause:
		return errors.New("the cluster is paused with no upgrade under way")
	}
	if c.Status.ObservedGeneration != c.Generation {
		return fmt.Errorf("cluster generation %d observed %d", c.Generation, c.Status.ObservedGeneration)
	}
	if err := s.childrenMatch(ctx, c); err != nil {
		return err
	}
	return s.workloadsReady(ctx)
}

// managersServing: a leader for each leader-elected binary, and a webhook ready.
func (s *soak) managersServing(ctx context.Context) error {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	for _, b := range demo.Binaries[:3] {
		if _, err := s.d.Leader(ctx, b); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	webhookReady := slices.ContainsFunc(s.d.Managers["scheduler-webhook"], func(m *demo.Manager) bool {
		return !m.Exited() && m.Ready(ctx) == nil
	})
	if !webhookReady {
		return errors.New("no scheduler-webhook ready")
	}
	return nil
}

// webhookMutates checks that the scheduler webhook answers admission: a pod with a StorageOS volume, created as
// a dry run, comes back with the StorageOS scheduler while the cluster runs one. The webhook fails open, so one
// that cannot be called (its certificate deleted and not yet replaced, say) admits pods unchanged, which no
// refusal would show.
func (s *soak) webhookMutates(ctx context.Context, c *storageosv1.StorageOSCluster) error {
	if c.Spec.DisableScheduler {
		return nil
	}
	class := string(c.Spec.StorageClassName)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: "soak-webhook-probe"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
				VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{
					StorageClassName: &class,
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: resource.MustParse("1Gi")}},
				}}}}}}}}
	if err := s.d.Client.Create(ctx, pod, client.DryRunAll); err != nil {
		return fmt.Errorf("creating a StorageOS pod (dry run): %w", err)
	}
	if pod.Spec.SchedulerName != schedulerwebhook.SchedulerName {
		return fmt.Errorf("a StorageOS pod admitted with scheduler %q, not %s: the scheduler webhook did not answer",
			pod.Spec.SchedulerName, schedulerwebhook.SchedulerName)
	}
	return nil
}

// childrenMatch checks the children every spec edit of the soak changes, and the ones always there.
func (s *soak) childrenMatch(ctx context.Context, c *storageosv1.StorageOSCluster) error {
	ns := string(c.Spec.Namespace)
	ds := &appsv1.DaemonSet{}
	cm := &corev1.ConfigMap{}
	for _, obj := range []struct {
		key client.ObjectKey
		o   client.Object
	}{
		{client.ObjectKey{Namespace: ns, Name: names.DaemonSet}, ds},
		{client.ObjectKey{Namespace: ns, Name: names.NodeConfigMap}, cm},
		{client.ObjectKey{Namespace: ns, Name: desired.InitSecretName}, &corev1.Secret{}},
		{client.ObjectKey{Namespace: ns, Name: c.Spec.Service.Name}, &corev1.Service{}},
		{client.ObjectKey{Name: string(c.Spec.StorageClassName)}, &storagev1.StorageClass{}},
	} {
		if err := s.d.Client.Get(ctx, obj.key, obj.o); err != nil {
			return fmt.Errorf("child %s: %w", obj.key, err)
		}
	}
	// The sample uses the CSI helper's default strategy, a StatefulSet.
	if err := present(ctx, s.d.Client, client.ObjectKey{Namespace: ns, Name: desired.CSIStatefulSetName}, &appsv1.StatefulSet{}, c.Spec.CSI.Enable); err != nil {
		return err
	}
	if err := present(ctx, s.d.Client, client.ObjectKey{Name: names.CSIDriver}, &storagev1.CSIDriver{}, c.Spec.CSI.Enable); err != nil {
		return err
	}
	if err := present(ctx, s.d.Client, client.ObjectKey{Namespace: ns, Name: names.Scheduler}, &appsv1.Deployment{}, !c.Spec.DisableScheduler); err != nil {
		return err
	}
	if err := present(ctx, s.d.Client, client.ObjectKey{Namespace: ns, Name: desired.IngressName}, &networkingv1.Ingress{}, c.Spec.Ingress.Enable); err != nil {
		return err
	}
	for key, want := range map[string]string{"LOG_LEVEL": map[bool]string{true: "debug", false: "info"}[c.Spec.Debug],
		"DISABLE_TELEMETRY": fmt.Sprint(c.Spec.DisableTelemetry), "DISABLE_FENCING": fmt.Sprint(c.Spec.DisableFencing)} {
		if cm.Data[key] != want {
			return fmt.Errorf("node ConfigMap %s=%q, not %q", key, cm.Data[key], want)
		}
	}
	spec := ds.Spec.Template.Spec
	soakToleration := slices.ContainsFunc(spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "soak" })
	if wantToleration := slices.ContainsFunc(c.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "soak" }); soakToleration != wantToleration {
		return fmt.Errorf("node DaemonSet toleration soak: %v, spec %v", soakToleration, wantToleration)
	}
	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == names.NodeContainer })
	if i < 0 {
		return errors.New("node DaemonSet has no node container")
	}
	got, want := spec.Containers[i].Resources.Requests.Memory(), c.Spec.Resources.Requests.Memory()
	if got.Cmp(*want) != 0 {
		return fmt.Errorf("node container memory request %s, spec %s", got, want)
	}
	return nil
}

// present checks that an object exists, or, with want false, that it does not.
func present(ctx context.Context, c client.Client, key client.ObjectKey, obj client.Object, want bool) error {
	err := c.Get(ctx, key, obj)
	switch {
	case want && err != nil:
		return fmt.Errorf("child %s: %w", key, err)
	case !want && err == nil:
		return fmt.Errorf("child %s still there", key)
	case !want && !apierrors.IsNotFound(err):
		return err
	}
	return nil
}

// workloadsReady: every application at its replicas, ready, and every NFSServer Running.
func (s *soak) workloadsReady(ctx context.Context) error {
	for _, name := range s.appNames() {
		d := &appsv1.Deployment{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: name}, d); err != nil {
			return err
		}
		s.mu.Lock()
		a, ok := s.apps[name]
		s.mu.Unlock()
		if !ok {
			continue // deleted meanwhile
		}
		want := a.replicas
		if ptrValue(d.Spec.Replicas) != want || d.Status.ReadyReplicas != want || d.Status.UpdatedReplicas != want {
			return fmt.Errorf("application %s: %d/%d ready", name, d.Status.ReadyReplicas, want)
		}
	}
	for _, name := range s.nfsNames() {
		n := &storageosv1.NFSServer{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: name}, n); err != nil {
			return err
		}
		if n.Status.Phase != storageosv1.NFSServerPhaseRunning {
			return fmt.Errorf("NFSServer %s %s", name, n.Status.Phase)
		}
	}
	return nil
}

// finish ends every fault, starts every killed process, lets the upgrade under way end (a previewed one is
// dropped), then waits for convergence within o.Converge.
func (s *soak) finish(ctx context.Context) {
	s.logf("schedule done: ending every fault, then waiting up to %s for convergence", s.o.Converge)
	s.recover(ctx, true)
	s.mu.Lock()
	name := s.upgrade
	s.mu.Unlock()
	if name != "" {
		u := &storageosv1.StorageOSUpgrade{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: name}, u); err == nil && u.Spec.Preview {
			if err := s.d.Client.Delete(ctx, u); err == nil {
				s.upgradeGone()
			}
		}
	}
	start := time.Now()
	deadline := start.Add(s.o.Converge)
	var err error
	lastSaid := time.Now()
	for time.Now().Before(deadline) {
		s.recover(ctx, true)
		if err = s.settled(ctx); err == nil {
			break
		}
		if time.Since(lastSaid) >= 15*time.Second {
			s.logf("  waiting: %v", err)
			lastSaid = time.Now()
		}
		if sleep(ctx, watchEvery) != nil {
			break
		}
	}
	violation := ""
	if err != nil {
		violation = fmt.Sprintf("not converged %s after the last fault: %v", s.o.Converge, err)
	} else {
		s.r.converged("end of the soak", time.Since(start))
		s.r.fault("end of the soak")
	}
	s.r.check(Converged, violation)
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, p := range pending {
		if err != nil {
			s.r.notConverged(p.kind)
		} else {
			s.r.converged(p.kind, time.Since(p.since))
		}
	}
}

// settled is converged, with no upgrade under way, every Job completed and every deletion done.
func (s *soak) settled(ctx context.Context) error {
	s.mu.Lock()
	upgrade, leaks := s.upgrade, len(s.leaks)
	var running []string
	for name := range s.jobs {
		if !s.completedJobs[name] {
			running = append(running, name)
		}
	}
	s.mu.Unlock()
	switch {
	case upgrade != "":
		return fmt.Errorf("%s under way", upgrade)
	case len(running) > 0:
		return fmt.Errorf("jobs not completed: %v", running)
	case leaks > 0:
		return fmt.Errorf("%d deletions not done", leaks)
	}
	return s.converged(ctx)
}
