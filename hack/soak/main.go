// Command soak is make soak: the operator on a local simulated cluster, two processes of every binary built
// with the race detector, under a seeded schedule of user actions and faults for a while, with invariants
// checked throughout (internal/soak). It prints a line per step and the report at the end, and exits 1 on any
// violation, keeping the logs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/soak"
)

func main() {
	demo.QuietClientLogs()
	var o demo.Options
	var so soak.Options
	var keep bool
	flag.StringVar(&o.Root, "root", ".", "The repository.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of the control-plane binaries, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin/race", "Directory of the four operator binaries (built with -race).")
	flag.IntVar(&o.Nodes, "nodes", 3, "Simulated nodes.")
	flag.Int64Var(&so.Seed, "seed", time.Now().UnixNano()%1_000_000, "The schedule's seed: the same seed replays the same steps.")
	flag.DurationVar(&so.Duration, "duration", 10*time.Minute, "How long the schedule of actions and faults runs.")
	flag.DurationVar(&so.Converge, "converge", 5*time.Minute, "How long the cluster may take to converge after the last fault.")
	flag.BoolVar(&keep, "keep", false, "Keep the work directory (logs) even when the soak found nothing.")
	flag.Parse()
	workDir, err := os.MkdirTemp("", "storageos-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	o.WorkDir = workDir
	violations, err := run(o, so)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "soak:", err, "\nlogs:", filepath.Join(workDir, "logs"))
		os.Exit(1)
	case violations > 0:
		fmt.Fprintln(os.Stderr, "soak: logs:", filepath.Join(workDir, "logs"))
		os.Exit(1)
	case !keep:
		_ = os.RemoveAll(workDir)
	}
}

func run(o demo.Options, so soak.Options) (violations int, err error) {
	ctx := context.Background()
	if o.KwokStages, err = localcluster.KwokStageFiles(o.Root); err != nil {
		return 0, err
	}
	// Two of each binary: every fault to a leader has a standby to take over.
	o.Replicas, o.Progress = 2, os.Stdout
	fmt.Printf("soak: starting the simulated cluster (%d nodes), two processes of each binary and the sample StorageOSCluster\n", o.Nodes)
	d, err := demo.Up(ctx, o)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, d.Down()) }()
	r, err := soak.Run(ctx, d, so)
	r.Print(os.Stdout)
	return len(r.Violations()), err
}
