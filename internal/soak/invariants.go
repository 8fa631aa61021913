package soak

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/names"
)

// The invariants, as the report names them.
const (
	AppsRestored     = "applications restored exactly after an upgrade"
	Converged        = "converged after the last fault"
	NothingLeaked    = "nothing left after a delete"
	NodePodsKept     = "storage pods restarted only by an upgrade"
	JobOnce          = "a Job completes, exactly once"
	WebhookNeverDeny = "no pod creation refused because of the webhook"
	NoSecretShown    = "no Secret value in a log, event or status"
	NoPanicOrRace    = "no panic or data race"
	MemoryFlat       = "each manager's memory flat"
)

// upgradeSettle is how long after an upgrade ends its node pod replacements may still be seen.
const upgradeSettle = 30 * time.Second

// watch checks the invariants that hold at every moment, and times the convergence after faults, until ctx
// ends.
func (s *soak) watch(ctx context.Context) {
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	lastSample := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.restartExited()
		s.checkNodePods(ctx)
		s.checkJobs(ctx)
		s.checkUpgrade(ctx)
		s.checkLeaks(ctx, false)
		s.timeConvergence(ctx)
		if time.Since(lastSample) >= 10*time.Second {
			s.sampleMemory()
			lastSample = time.Now()
		}
	}
}

// restartExited starts again a manager that exited on its own, as the kubelet would (a leader that cannot
// renew its Lease exits by design). Why it exited is in its log, which the end checks read for panics.
func (s *soak) restartExited() {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	s.mu.Lock()
	waiting := map[*demo.Manager]bool{}
	for _, r := range s.restarts {
		waiting[r.m] = true
	}
	s.mu.Unlock()
	for _, m := range s.managers() {
		if !m.Exited() || waiting[m] {
			continue
		}
		s.logf("  %s exited on its own (%v); starting it again", m.Name, m.Err())
		s.r.action("manager exited on its own: " + m.Binary)
		if err := m.Restart(); err != nil {
			s.logf("  starting %s again: %v", m.Name, err)
		}
	}
}

// nodePodUIDs are the StorageOS node pods' UIDs by node: the pods of the node DaemonSet.
func (s *soak) nodePodUIDs(ctx context.Context) (map[string]string, error) {
	var pods corev1.PodList
	if err := s.d.Client.List(ctx, &pods, client.InNamespace(s.clusterNamespace), client.MatchingLabels{names.LabelApp: "storageos"}); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		owner := metav1.GetControllerOf(&p)
		if owner == nil || owner.Kind != "DaemonSet" || owner.Name != names.DaemonSet {
			continue
		}
		if p.Spec.NodeName != "" && p.DeletionTimestamp == nil {
			out[p.Spec.NodeName] = string(p.UID)
		}
	}
	return out, nil
}

// checkNodePods: a node pod replaced while no upgrade is under way (or just ended) is a storage restart nobody
// asked for.
func (s *soak) checkNodePods(ctx context.Context) {
	now, err := s.nodePodUIDs(ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	upgrading := (s.upgrade != "" && !s.preview) || time.Since(s.upgradeEnded) < upgradeSettle
	var replaced []string
	for node, uid := range now {
		if was, ok := s.nodePods[node]; ok && was != uid {
			replaced = append(replaced, node)
		}
		s.nodePods[node] = uid
	}
	s.mu.Unlock()
	slices.Sort(replaced)
	violation := ""
	if len(replaced) > 0 && !upgrading {
		violation = fmt.Sprintf("node pods replaced on %s with no upgrade under way", strings.Join(replaced, ", "))
	}
	s.r.check(NodePodsKept, violation)
}

// checkJobs: a Job's completed never goes back to false.
func (s *soak) checkJobs(ctx context.Context) {
	for _, name := range s.jobNames(false) {
		j := &storageosv1.Job{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: name}, j); err != nil {
			continue
		}
		s.mu.Lock()
		violation := ""
		if s.jobs[name] {
			if s.completedJobs[name] && !j.Status.Completed {
				violation = fmt.Sprintf("Job %s went from completed back to not completed", name)
			}
			if j.Status.Completed {
				s.completedJobs[name] = true
			}
		}
		s.mu.Unlock()
		s.r.check(JobOnce, violation)
	}
}

// checkUpgrade follows the driver's upgrade: when it ends, every application must be at the replicas it had
// (or that the driver set since), and the upgrade is deleted, which unpauses the cluster.
func (s *soak) checkUpgrade(ctx context.Context) {
	s.mu.Lock()
	name := s.upgrade
	s.mu.Unlock()
	if name == "" {
		return
	}
	u := &storageosv1.StorageOSUpgrade{}
	err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: name}, u)
	if apierrors.IsNotFound(err) {
		s.upgradeGone()
		return
	}
	if err != nil || (!u.Status.Completed && u.Status.Phase != storageosv1.UpgradePhaseFailed) {
		return
	}
	s.logf("  %s ended: %s", name, u.Status.Phase)
	s.r.action("upgrade ended " + string(u.Status.Phase))
	s.checkAppsRestored(ctx, name+" ended "+string(u.Status.Phase))
	if err := s.d.Client.Delete(ctx, u); client.IgnoreNotFound(err) != nil {
		return
	}
	s.upgradeGone()
}

// upgradeGone records that the driver's upgrade has ended and is deleted.
func (s *soak) upgradeGone() {
	s.mu.Lock()
	s.upgrade, s.upgradeEnded = "", time.Now()
	s.mu.Unlock()
}

// checkAppsRestored: every application is at the replicas the driver last set.
func (s *soak) checkAppsRestored(ctx context.Context, when string) {
	for _, name := range s.appNames() {
		d := &appsv1.Deployment{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: name}, d); err != nil {
			// Deleted meanwhile by the driver, or the API server restarting: nothing to judge.
			continue
		}
		s.mu.Lock()
		a, ok := s.apps[name]
		s.mu.Unlock()
		if !ok {
			continue
		}
		want := a.replicas
		violation := ""
		if got := ptrValue(d.Spec.Replicas); got != want {
			violation = fmt.Sprintf("%s: %s has %d replicas, not %d", when, name, got, want)
		}
		s.r.check(AppsRestored, violation)
	}
}

// ptrValue is a Deployment's replicas, 1 when unset (the API's default).
func ptrValue(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// checkLeaks follows deletions: what they remove must be gone within leakBound. With final, each is checked
// once more and whatever remains is a violation.
func (s *soak) checkLeaks(ctx context.Context, final bool) {
	s.mu.Lock()
	leaks := slices.Clone(s.leaks)
	s.mu.Unlock()
	var keep []leakCheck
	for _, l := range leaks {
		gone, err := l.gone(ctx)
		switch {
		case err == nil && gone:
			s.r.check(NothingLeaked, "")
		case final && err != nil:
			s.r.check(NothingLeaked, fmt.Sprintf("%s: could not tell whether its objects are gone: %v", l.what, err))
		case err == nil && (final || time.Now().After(l.deadline)):
			s.r.check(NothingLeaked, fmt.Sprintf("%s: its objects still there %s after the delete", l.what, leakBound))
		default:
			keep = append(keep, l)
		}
	}
	s.mu.Lock()
	// Deletions made while this ran are kept too.
	s.leaks = append(keep, s.leaks[len(leaks):]...)
	s.mu.Unlock()
}

// sampleMemory records each running manager's resident memory in the first or last third of the soak.
func (s *soak) sampleMemory() {
	third := int(3 * time.Since(s.start) / max(s.o.Duration, time.Second))
	if third == 1 || third > 2 {
		return
	}
	s.procMu.Lock()
	defer s.procMu.Unlock()
	for _, m := range s.managers() {
		if m.Exited() {
			continue
		}
		rss, err := m.RSS()
		if err != nil {
			continue
		}
		s.r.mu.Lock()
		p := s.r.peakRSS[m.Binary]
		if p == nil {
			p = &[2]int64{}
			s.r.peakRSS[m.Binary] = p
		}
		p[third/2] = max(p[third/2], rss)
		s.r.mu.Unlock()
	}
}
