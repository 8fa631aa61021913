// Command scale is make scale: the operator on a local simulated cluster of many nodes running many
// StorageOS-backed applications, each figure beside its floor (what Kubernetes itself needs for the same work
// on the same nodes, in the same run). It prints a line per phase and a table at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
)

// appsNamespace holds the applications.
const appsNamespace = "scale"

func main() {
	var o demo.Options
	var s settings
	var keep bool
	flag.StringVar(&o.Root, "root", ".", "The repository.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of the control-plane binaries, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin", "Directory of the four operator binaries.")
	flag.IntVar(&o.Nodes, "nodes", 100, "Simulated nodes.")
	flag.IntVar(&s.apps, "apps", 200, "StorageOS-backed applications (Deployments of one replica, each with its own volume).")
	flag.IntVar(&s.burst, "burst", 200, "Pods created at once to measure the scheduler webhook's latency.")
	flag.DurationVar(&s.settled, "settled", 2*time.Minute, "How long the settled state is watched for its API requests.")
	flag.BoolVar(&keep, "keep", false, "Keep the work directory (logs, audit log) afterwards.")
	flag.Parse()
	workDir, err := os.MkdirTemp("", "storageos-scale-")
	if err == nil {
		o.WorkDir = workDir
		err = run(o, s)
		if err == nil && !keep {
			_ = os.RemoveAll(workDir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err, "\nlogs:", filepath.Join(workDir, "logs"))
		os.Exit(1)
	}
}

// settings are what a run does besides the nodes.
type settings struct {
	apps, burst int
	settled     time.Duration
}

func run(o demo.Options, s settings) (err error) {
	ctx := context.Background()
	if o.KwokStages, err = localcluster.KwokStageFiles(o.Root); err != nil {
		return err
	}
	o.Progress, o.ReadyTimeout, o.Audit = os.Stdout, 30*time.Minute, true
	r := &report{nodes: o.Nodes, apps: s.apps, cores: runtime.NumCPU()}
	phase("starting the simulated cluster, the operator and the sample StorageOSCluster on %d nodes", o.Nodes)
	d, err := demo.Up(ctx, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Down()) }()

	steps := []struct {
		name string
		run  func(context.Context, *demo.Demo, settings, *report) error
	}{
		{"cluster create → Running", measureCreate},
		{"plain DaemonSet floor", measureDaemonSetFloor},
		{"settled state", measureSettled},
		{"applications", createApps},
		{"scheduler webhook burst", measureWebhookBurst},
		{"cleanup Job on every node", measureCleanupJob},
		{"offline upgrade", measureUpgrade},
	}
	for _, step := range steps {
		start := time.Now()
		if err := step.run(ctx, d, s, r); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		phase("%s: done in %s", step.name, time.Since(start).Round(100*time.Millisecond))
	}
	if r.usage, err = managerUsage(d); err != nil {
		return err
	}
	r.print(os.Stdout)
	return nil
}

// phase prints a progress line.
func phase(format string, args ...any) {
	fmt.Printf("scale: "+format+"\n", args...)
}

// wait polls check every second, printing its state every 15 s.
func wait(ctx context.Context, timeout time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(timeout)
	lastPrint := time.Now()
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %s: %w", what, timeout, err)
		}
		if time.Since(lastPrint) > 15*time.Second {
			phase("waiting for %s: %v", what, err)
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
