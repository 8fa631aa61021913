package soak

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/demo"
)

// managers are every manager process, in a fixed order: the binaries in their start order, then replicas.
func (s *soak) managers() []*demo.Manager {
	var out []*demo.Manager
	for _, b := range demo.Binaries {
		out = append(out, s.d.Managers[b]...)
	}
	return out
}

// killManager SIGKILLs one manager process, leader or not, and starts it again after a few seconds, as the
// kubelet restarts a container.
func (s *soak) killManager(st step) error {
	s.procMu.Lock()
	defer s.procMu.Unlock()
	ms := s.managers()
	m := ms[st.pick%len(ms)]
	if m.Exited() {
		return fmt.Errorf("%s is down already", m.Name)
	}
	leading := m.Leading()
	back := time.Duration(between(st.n, 1, 10)) * time.Second
	// Recorded before the kill, so that the watcher never takes it for a process that exited on its own.
	s.mu.Lock()
	s.restarts = append(s.restarts, restart{m: m, at: time.Now().Add(back)})
	s.mu.Unlock()
	m.Kill()
	s.logf("  killed %s (leading: %v), back in %s", m.Name, leading, back)
	return nil
}

// restartControlPlane restarts kube-apiserver or etcd (SIGKILL, then the same arguments and data).
func (s *soak) restartControlPlane(ctx context.Context, kind string, restart func(context.Context) (time.Duration, error)) error {
	down, err := restart(ctx)
	if err != nil {
		return err
	}
	s.logf("  API back after %s", down.Round(100*time.Millisecond))
	s.faultEnded(kind)
	return nil
}

// storageOSDown makes the StorageOS API unreachable for a while.
func (s *soak) storageOSDown(st step) error {
	s.d.Simulator.SetOutage(true)
	s.until(StorageOSDown, time.Duration(between(st.n, 10, 60))*time.Second, func(context.Context) error {
		s.d.Simulator.SetOutage(false)
		return nil
	})
	return nil
}

// storageOSSlow makes every StorageOS API call take 3 s for a while.
func (s *soak) storageOSSlow(st step) error {
	s.d.Simulator.SetLatency(3 * time.Second)
	s.until(StorageOSSlow, time.Duration(between(st.n, 10, 60))*time.Second, func(context.Context) error {
		s.d.Simulator.SetLatency(0)
		return nil
	})
	return nil
}

// nodeNotReady reports a node NotReady for a while.
func (s *soak) nodeNotReady(ctx context.Context, st step) error {
	node := s.nodes[st.pick%len(s.nodes)]
	s.mu.Lock()
	for _, r := range s.recoveries {
		if r.kind == NodeNotReady+" "+node {
			s.mu.Unlock()
			return fmt.Errorf("%s is NotReady already", node)
		}
	}
	s.mu.Unlock()
	// The way back is scheduled first: a node half taken down (kwok no longer managing it) must come back too.
	s.until(NodeNotReady+" "+node, time.Duration(between(st.n, 20, 90))*time.Second, func(ctx context.Context) error {
		return s.d.Cluster.SetNodeReady(ctx, node, true)
	})
	if err := s.d.Cluster.SetNodeReady(ctx, node, false); err != nil {
		return err
	}
	s.logf("  %s NotReady", node)
	return nil
}

// deleteWebhookCert deletes the Secret holding the webhook's CA and serving certificate; the webhook must
// issue new ones and keep serving. Its key is remembered first: no log may ever show it.
func (s *soak) deleteWebhookCert(ctx context.Context) error {
	secret := &corev1.Secret{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.Namespace, Name: webhookCertSecret}, secret); err != nil {
		return err
	}
	s.rememberKeys(secret)
	if err := s.d.Client.Delete(ctx, secret); err != nil {
		return err
	}
	s.faultEnded(WebhookCertDel)
	return nil
}

// webhookCertSecret is the scheduler webhook's certificate Secret (its --cert-secret-name default).
const webhookCertSecret = "storageos-scheduler-webhook-cert"

// until ends a fault after d. A fault of the same kind under way lasts until the later of the two ends, so an
// earlier fault's end does not cut the new one short.
func (s *soak) until(kind string, d time.Duration, undo func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := time.Now().Add(d)
	for i := range s.recoveries {
		if s.recoveries[i].kind == kind {
			s.recoveries[i].at = maxTime(s.recoveries[i].at, at)
			return
		}
	}
	s.recoveries = append(s.recoveries, recovery{kind: kind, at: at, undo: undo})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// recover ends the faults whose time has come (all of them with now), and starts killed processes again.
func (s *soak) recover(ctx context.Context, now bool) {
	s.mu.Lock()
	var due []recovery
	keep := s.recoveries[:0]
	for _, r := range s.recoveries {
		if now || time.Now().After(r.at) {
			due = append(due, r)
		} else {
			keep = append(keep, r)
		}
	}
	s.recoveries = keep
	s.mu.Unlock()
	for _, r := range due {
		if err := r.undo(ctx); err != nil {
			// The API server may be restarting: try again at the next look.
			s.logf("  ending %s: %v", r.kind, err)
			s.mu.Lock()
			s.recoveries = append(s.recoveries, r)
			s.mu.Unlock()
			continue
		}
		s.logf("  %s ended", r.kind)
		s.faultEnded(faultKind(r.kind))
	}
	// The restarts due are taken under procMu, as restartExited looks at them: a killed manager is never both
	// off the list and not yet started again while restartExited looks, so it is not taken for one that exited
	// on its own.
	s.procMu.Lock()
	defer s.procMu.Unlock()
	s.mu.Lock()
	var starts []*demo.Manager
	waiting := s.restarts[:0]
	for _, r := range s.restarts {
		if now || time.Now().After(r.at) {
			starts = append(starts, r.m)
		} else {
			waiting = append(waiting, r)
		}
	}
	s.restarts = waiting
	s.mu.Unlock()
	for _, m := range starts {
		if err := m.Restart(); err != nil {
			s.logf("  starting %s again: %v", m.Name, err)
			continue
		}
		s.faultEnded(KillManager)
	}
}

// faultKind is a recovery's fault kind (a NotReady recovery names its node).
func faultKind(recoveryKind string) string {
	if len(recoveryKind) > len(NodeNotReady) && recoveryKind[:len(NodeNotReady)] == NodeNotReady {
		return NodeNotReady
	}
	return recoveryKind
}

// faultEnded starts timing the convergence after a fault.
func (s *soak) faultEnded(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, pendingConverge{kind: kind, since: time.Now()})
}
