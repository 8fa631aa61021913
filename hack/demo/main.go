// Command demo is make demo and make demo-down: it brings up a local simulated Kubernetes cluster with the
// operator and a StorageOS cluster on it (internal/demo), keeps it running until interrupted or told to stop
// by make demo-down, and then stops everything it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/proc"
)

func main() {
	demo.QuietClientLogs()
	var o demo.Options
	var down bool
	flag.StringVar(&o.Root, "root", ".", "The repository (config/default and config/samples are read from it).")
	flag.StringVar(&o.WorkDir, "workdir", ".demo", "Where the demo keeps its data, logs and kubeconfigs.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin", "Directory of the four operator binaries.")
	flag.IntVar(&o.Nodes, "nodes", 3, "Number of simulated nodes.")
	flag.IntVar(&o.Replicas, "replicas", 1, "Processes of each operator binary.")
	flag.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "How long to wait for the StorageOSCluster to be Running.")
	flag.StringVar(&o.PrometheusBin, "prometheus", "", "A Prometheus binary to run beside the operator, scraping it with its alerts loaded (make demo passes bin/prometheus-<version>).")
	flag.BoolVar(&down, "down", false, "Stop the demo running from -workdir.")
	flag.Parse()
	var err error
	if o.WorkDir, err = filepath.Abs(o.WorkDir); err == nil {
		if down {
			err = stop(o.WorkDir)
		} else {
			err = run(o)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(o demo.Options) error {
	if r, ok := running(o.WorkDir); ok {
		return fmt.Errorf("a demo is already running from %s (pid %d): run make demo-down first", o.WorkDir, r.Pid)
	}
	if err := checkWorkDir(o.WorkDir); err != nil {
		return err
	}
	// A demo killed without make demo-down may have left processes and stale data: start clean.
	if n, err := demo.KillLeftovers(o.WorkDir); err != nil {
		return err
	} else if n > 0 {
		fmt.Printf("demo: stopped %d processes left by an earlier demo\n", n)
	}
	if err := os.RemoveAll(o.WorkDir); err != nil {
		return err
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.WorkDir, marker), nil, 0o644); err != nil {
		return err
	}
	self, err := proc.RecordOf("demo", os.Getpid())
	if err != nil {
		return err
	}
	if err := os.WriteFile(pidFile(o.WorkDir), []byte(self.String()), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidFile(o.WorkDir))
	stages, err := localcluster.KwokStageFiles(o.Root)
	if err != nil {
		return err
	}
	o.KwokStages, o.Progress = stages, os.Stdout

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	start := time.Now()
	d, err := demo.Up(ctx, o)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted; everything started was stopped")
		}
		return fmt.Errorf("%w\neverything started was stopped", err)
	}
	table, err := d.Kubectl(ctx, "get", "storageoscluster", "-A")
	if err != nil {
		_ = d.Down()
		return err
	}
	fmt.Printf("\n%s\nStorageOS is Running on %d simulated nodes, %s after start.\n\n", strings.TrimSpace(table), o.Nodes,
		time.Since(start).Round(100*time.Millisecond))
	fmt.Printf("  export KUBECONFIG=%s\n  kubectl get storageoscluster,pods -A\n\n", d.Cluster.Kubeconfig)
	if d.Prometheus != nil {
		fmt.Printf("Prometheus: %s (scraping the four binaries; alerts: %s/api/v1/alerts, e.g. curl '%s/api/v1/query?query=storageos_cluster_status_phase')\n",
			d.Prometheus.URL, d.Prometheus.URL, d.Prometheus.URL)
	}
	fmt.Printf("Logs: %s. Stop with Ctrl-C or make demo-down.\n", d.Logs())
	<-ctx.Done()
	fmt.Println("demo: stopping")
	if err := d.Down(); err != nil {
		return err
	}
	fmt.Println("demo: stopped")
	return nil
}

// stop signals the running demo's driver and waits until it has stopped everything; processes of a driver
// that was killed are stopped directly.
func stop(workDir string) error {
	driver, wasRunning := running(workDir)
	if wasRunning {
		fmt.Printf("demo: stopping the demo (pid %d)\n", driver.Pid)
		if err := syscall.Kill(driver.Pid, syscall.SIGTERM); err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for driver.Running() {
			if time.Now().After(deadline) {
				_ = syscall.Kill(driver.Pid, syscall.SIGKILL)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	n, err := demo.KillLeftovers(workDir)
	if err != nil {
		return err
	}
	_ = os.Remove(pidFile(workDir))
	switch {
	case n > 0:
		fmt.Printf("demo: killed %d leftover processes\n", n)
	case !wasRunning:
		fmt.Println("demo: no demo running")
	default:
		fmt.Println("demo: stopped")
	}
	return nil
}

func pidFile(workDir string) string { return filepath.Join(workDir, "demo.pid") }

// running reads the driver's record and checks that it is still that process, running.
func running(workDir string) (proc.Record, bool) {
	data, err := os.ReadFile(pidFile(workDir))
	if err != nil {
		return proc.Record{}, false
	}
	r, err := proc.ParseRecord(strings.TrimSpace(string(data)))
	return r, err == nil && r.Running()
}

// marker marks a directory as a demo's work directory, the only kind make demo deletes to start clean.
const marker = ".storageos-demo"

// checkWorkDir refuses a -workdir that holds anything but an earlier demo, so that a mistyped path is never
// deleted.
func checkWorkDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		return fmt.Errorf("%s is not empty and is not a demo's work directory: choose another -workdir (DEMO_DIR)", dir)
	}
	return nil
}
