// Package soak is make soak: the operator on the simulated cluster (two processes of every binary, built with
// the race detector) under a seeded schedule of user actions and faults, with invariants checked while it runs
// and at the end, and a report of what happened.
//
// A seed replays the same schedule: the same steps, in the same order, at the same times. The cluster's
// answers (how fast a leader takes over, when a Job completes) vary from run to run, what a step acts on is
// chosen among the objects the driver made, and some steps depend on how far the cluster got (an upgrade starts
// only once the last one ended; only completed Jobs are deleted), so a replay meets the same faults in much the
// same situations, not byte for byte the same run.
package soak

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
)

// Options configure a soak.
type Options struct {
	Seed     int64
	Duration time.Duration
	// Converge bounds how long, after the last fault, the cluster may take to converge: every child object
	// present and as the spec says, every manager led, every application and NFSServer ready.
	Converge time.Duration
	// Progress receives a line per step; nil for standard output.
	Progress io.Writer
	// CleanUp deletes what the soak made (its namespace) at the end, for a cluster that goes on being used.
	CleanUp bool
}

// appsNamespace holds the soak's applications, bare pods and NFSServers.
const appsNamespace = "soak"

// soak is one run: the demo it drives, the schedule, and the driver's own record of what it made.
type soak struct {
	d     *demo.Demo
	o     Options
	r     *Report
	start time.Time
	nodes []string
	// clusterNamespace is where the sample cluster deploys StorageOS.
	clusterNamespace string

	// procMu serialises every use of the manager processes (kill, restart, lead and readiness checks, memory
	// samples): the main loop and the watcher both act on them, and a restart replaces a Manager's process.
	procMu sync.Mutex
	// logMu serialises progress lines from the main loop and the watcher.
	logMu sync.Mutex

	mu sync.Mutex
	// apps are the applications the driver made and has not deleted, by name, with the replicas it set.
	apps map[string]*app
	// jobs are the Jobs the driver made and has not deleted.
	jobs map[string]bool
	// nfs are the NFSServers the driver made and has not deleted.
	nfs map[string]bool
	// upgrade is the driver's upgrade under way ("" for none), preview whether it only previews (it then pauses
	// and replaces nothing); upgrades counts them, for names and images.
	upgrade  string
	preview  bool
	upgrades int
	// upgradeEnded is when the last upgrade ended: node pods replaced shortly after are still its work.
	upgradeEnded time.Time
	// pods are the bare pods the driver made, oldest first.
	pods []string
	// seq numbers the objects the driver makes.
	seq int
	// nodePods are the node pods' UIDs by node, as last seen.
	nodePods map[string]string
	// pending are faults whose convergence is being timed, and leaks are deletions being followed.
	pending []pendingConverge
	leaks   []leakCheck
	// secrets are values that no log, event or status may contain: every API password the soak set, and lines
	// of the webhook's private keys.
	secrets map[string]string
	// completedJobs are every Job the watcher saw complete, deleted since or not: the one record of completion.
	completedJobs map[string]bool
	// restarts are the manager processes the driver killed, with when to start each again.
	restarts []restart
	// recoveries end faults that last (an API outage, a NotReady node) at their time.
	recoveries []recovery
}

type app struct {
	replicas  int32
	storageOS bool
}

type pendingConverge struct {
	kind  string
	since time.Time
}

type leakCheck struct {
	what     string
	deadline time.Time
	gone     func(context.Context) (bool, error)
}

type restart struct {
	m  *demo.Manager
	at time.Time
}

type recovery struct {
	kind string
	at   time.Time
	undo func(context.Context) error
}

// leakBound is how long a deleted object's dependents may take to go; watchEvery is how often the invariants
// are checked while the soak runs.
const (
	leakBound  = 2 * time.Minute
	watchEvery = 2 * time.Second
)

// Run soaks the demo's cluster (its sample StorageOSCluster Running) for o.Duration, then ends every fault,
// waits for convergence and checks everything once more. The error is for a soak that could not run; what it
// found is in the report.
func Run(ctx context.Context, d *demo.Demo, o Options) (*Report, error) {
	if o.Progress == nil {
		o.Progress = os.Stdout
	}
	if o.Converge == 0 {
		o.Converge = 5 * time.Minute
	}
	s := &soak{d: d, o: o, r: newReport(o.Seed, o.Duration), start: time.Now(), apps: map[string]*app{}, jobs: map[string]bool{},
		nfs: map[string]bool{}, nodePods: map[string]string{}, secrets: map[string]string{}, completedJobs: map[string]bool{}}
	if err := s.setUp(ctx); err != nil {
		return s.r, err
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); s.watch(watchCtx) }()

	steps := schedule(o.Seed, o.Duration)
	s.logf("%d steps over %s (seed %d)", len(steps), o.Duration, o.Seed)
	for i, st := range steps {
		if err := s.sleepUntil(ctx, s.start.Add(st.at)); err != nil {
			break
		}
		st.kind = s.actionable(st.kind)
		s.logf("step %d/%d at %s: %s", i+1, len(steps), st.at.Round(time.Second), st.kind)
		if isFault(st.kind) {
			s.r.fault(st.kind)
		} else {
			s.r.action(st.kind)
		}
		if err := s.do(ctx, st); err != nil {
			// A step that cannot act (the API server restarting under it) is part of the chaos, not a result.
			s.logf("  %s: %v", st.kind, err)
			s.r.couldNotAct(st.kind)
		}
	}
	s.finish(ctx)
	stopWatching()
	<-watched
	s.endChecks(ctx)
	s.r.Elapsed = time.Since(s.start)
	if o.CleanUp {
		if err := s.cleanUp(ctx); err != nil {
			return s.r, err
		}
	}
	return s.r, ctx.Err()
}

// actionable is the step to take for kind: an edit or delete of a kind of object the driver has none of
// creates one instead, so that no step is wasted early on. It depends only on the driver's own record of what
// it made, so a seed replays the same kinds of step as long as the cluster accepts the same creates.
func (s *soak) actionable(kind string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case (kind == EditNFS || kind == DeleteNFS) && len(s.nfs) == 0:
		return CreateNFS
	case (kind == ScaleApp || kind == DeleteApp) && len(s.apps) == 0:
		return CreateApp
	}
	return kind
}

// do runs one step.
func (s *soak) do(ctx context.Context, st step) error {
	switch st.kind {
	case EditCluster:
		return s.editCluster(ctx, st)
	case RotateSecret:
		return s.rotateSecret(ctx)
	case CreateJob:
		return s.createJob(ctx)
	case Upgrade:
		return s.startUpgrade(ctx, st)
	case CreateNFS:
		return s.createNFS(ctx)
	case EditNFS:
		return s.editNFS(ctx, st)
	case DeleteNFS:
		return s.deleteNFS(ctx, st)
	case CreateApp:
		return s.createApp(ctx, st)
	case ScaleApp:
		return s.scaleApp(ctx, st)
	case DeleteApp:
		return s.deleteApp(ctx, st)
	case CreatePod:
		return s.createPod(ctx, st)
	case KillManager:
		return s.killManager(st)
	case RestartAPI:
		return s.restartControlPlane(ctx, st.kind, s.d.Cluster.RestartAPIServer)
	case RestartEtcd:
		return s.restartControlPlane(ctx, st.kind, s.d.Cluster.RestartEtcd)
	case StorageOSDown:
		return s.storageOSDown(st)
	case StorageOSSlow:
		return s.storageOSSlow(st)
	case NodeNotReady:
		return s.nodeNotReady(ctx, st)
	case WebhookCertDel:
		return s.deleteWebhookCert(ctx)
	}
	return fmt.Errorf("no step %q", st.kind)
}

// sleepUntil waits until t, ending faults and starting killed processes again when their time comes.
func (s *soak) sleepUntil(ctx context.Context, t time.Time) error {
	for {
		s.recover(ctx, false)
		wait := time.Until(t)
		if wait <= 0 {
			return nil
		}
		if err := sleep(ctx, min(wait, time.Second)); err != nil {
			return err
		}
	}
}

// sleep waits for d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (s *soak) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.o.Progress, "soak %s: %s\n", time.Since(s.start).Round(time.Second), fmt.Sprintf(format, args...))
}
