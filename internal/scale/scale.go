// Package scale runs the operator's scale measurements on a simulated cluster of many nodes running many
// StorageOS-backed applications, each figure beside its floor (what Kubernetes itself needs for the same work on
// the same nodes, in the same run): make scale runs them all, and make e2e a CI-sized part of them as a
// regression guard on growth.
package scale

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
)

// appsNamespace holds the applications.
const appsNamespace = "scale"

// Settings are what a run does besides the nodes, which the demo was started with.
type Settings struct {
	Apps, Burst int
	// Settled is how long the settled state is watched for its API requests.
	Settled time.Duration
	// Progress receives a line per phase; nil for standard output.
	Progress io.Writer
	// NoFloors leaves out the writes floor of the upgrade step (the guard asserts on counts, not on times).
	NoFloors bool
}

// Step is one measurement. Run runs steps in the order it is given them; some need another first (the webhook
// burst, the cleanup Job and the upgrade need the applications).
type Step struct {
	// Name says what the step measures; Flag names it in make scale's -steps.
	Name, Flag string
	run        func(context.Context, *demo.Demo, Settings, *Report) error
}

// The steps, in the order they run.
var (
	Create         = Step{"cluster create → Running", "create", measureCreate}
	DaemonSetFloor = Step{"plain DaemonSet floor", "floor", measureDaemonSetFloor}
	Settled        = Step{"settled state", "settled", measureSettled}
	Apps           = Step{"applications", "apps", createApps}
	WebhookBurst   = Step{"scheduler webhook burst", "webhook", measureWebhookBurst}
	CleanupJob     = Step{"cleanup Job on every node", "job", measureCleanupJob}
	Upgrade        = Step{"offline upgrade", "upgrade", measureUpgrade}
	AllSteps       = []Step{Create, DaemonSetFloor, Settled, Apps, WebhookBurst, CleanupJob, Upgrade}
)

// Run runs steps on the demo's cluster (its sample StorageOSCluster applied, on nodes nodes) and reports the
// figures and each manager's usage.
func Run(ctx context.Context, d *demo.Demo, nodes int, s Settings, steps ...Step) (*Report, error) {
	r := &Report{nodes: nodes, apps: s.Apps, cores: runtime.NumCPU(), progress: s.Progress}
	if r.progress == nil {
		r.progress = os.Stdout
	}
	for _, step := range steps {
		start := time.Now()
		if err := step.run(ctx, d, s, r); err != nil {
			return r, fmt.Errorf("%s: %w", step.Name, err)
		}
		r.phase("%s: done in %s", step.Name, time.Since(start).Round(100*time.Millisecond))
	}
	var err error
	r.usage, err = managerUsage(d)
	return r, err
}

// phase prints a progress line.
func (r *Report) phase(format string, args ...any) {
	fmt.Fprintf(r.progress, "scale: "+format+"\n", args...)
}

// stop is a check's error that waiting longer cannot change (an upgrade that failed): wait returns it at once.
type stop struct{ error }

// wait polls check every second, printing its state every 15 s, until it succeeds, fails with stop, or the
// timeout passes.
func (r *Report) wait(ctx context.Context, timeout time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(timeout)
	lastPrint := time.Now()
	for {
		err := check()
		if err == nil {
			return nil
		}
		var final stop
		if errors.As(err, &final) {
			return fmt.Errorf("%s: %w", what, final.error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %s: %w", what, timeout, err)
		}
		if time.Since(lastPrint) > 15*time.Second {
			r.phase("waiting for %s: %v", what, err)
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
