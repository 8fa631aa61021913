// Command scale is make scale: the operator on a local simulated cluster of many nodes running many
// StorageOS-backed applications, each figure beside its floor (what Kubernetes itself needs for the same work
// on the same nodes, in the same run). It prints a line per phase and a table at the end (internal/scale).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/scale"
)

func main() {
	demo.QuietClientLogs()
	var o demo.Options
	var s scale.Settings
	var keep bool
	flag.StringVar(&o.Root, "root", ".", "The repository.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of the control-plane binaries, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin", "Directory of the four operator binaries.")
	flag.IntVar(&o.Nodes, "nodes", 100, "Simulated nodes.")
	flag.IntVar(&s.Apps, "apps", 200, "StorageOS-backed applications (Deployments of one replica, each with its own volume).")
	flag.IntVar(&s.Burst, "burst", 200, "Pods created at once to measure the scheduler webhook's latency.")
	flag.DurationVar(&s.Settled, "settled", 2*time.Minute, "How long the settled state is watched for its API requests.")
	flag.BoolVar(&keep, "keep", false, "Keep the work directory (logs, audit log) afterwards.")
	stepNames := flag.String("steps", "", "Comma-separated steps to run, in their usual order (default all): "+strings.Join(stepList(), ", ")+".")
	flag.Parse()
	steps, err := chosenSteps(*stepNames)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
	workDir, err := os.MkdirTemp("", "storageos-scale-")
	if err == nil {
		o.WorkDir = workDir
		err = run(o, s, steps)
		if err == nil && !keep {
			_ = os.RemoveAll(workDir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err, "\nlogs:", filepath.Join(workDir, "logs"))
		os.Exit(1)
	}
}

// stepList names the steps, in the order they run.
func stepList() []string {
	var out []string
	for _, step := range scale.AllSteps {
		out = append(out, step.Flag)
	}
	return out
}

// chosenSteps are the steps a -steps value names, in their usual order; all of them for "".
func chosenSteps(value string) ([]scale.Step, error) {
	if value == "" {
		return scale.AllSteps, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(value, ",") {
		if !slices.Contains(stepList(), strings.TrimSpace(name)) {
			return nil, fmt.Errorf("-steps: no step %q (steps: %s)", name, strings.Join(stepList(), ", "))
		}
		want[strings.TrimSpace(name)] = true
	}
	var out []scale.Step
	for _, step := range scale.AllSteps {
		if want[step.Flag] {
			out = append(out, step)
		}
	}
	return out, nil
}

func run(o demo.Options, s scale.Settings, steps []scale.Step) (err error) {
	ctx := context.Background()
	if o.KwokStages, err = localcluster.KwokStageFiles(o.Root); err != nil {
		return err
	}
	o.Progress, o.ReadyTimeout, o.Audit = os.Stdout, 30*time.Minute, true
	fmt.Printf("scale: starting the simulated cluster, the operator and the sample StorageOSCluster on %d nodes\n", o.Nodes)
	d, err := demo.Up(ctx, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Down()) }()
	r, err := scale.Run(ctx, d, o.Nodes, s, steps...)
	if err != nil {
		return err
	}
	r.Print(os.Stdout)
	return nil
}
