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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
)

func main() {
	var o demo.Options
	var down bool
	flag.StringVar(&o.Root, "root", ".", "The repository (config/default and config/samples are read from it).")
	flag.StringVar(&o.WorkDir, "workdir", ".demo", "Where the demo keeps its data, logs and kubeconfigs.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin", "Directory of the four operator binaries.")
	flag.IntVar(&o.Nodes, "nodes", 3, "Number of simulated nodes.")
	flag.IntVar(&o.Replicas, "replicas", 1, "Processes of each operator binary.")
	flag.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "How long to wait for the StorageOSCluster to be Running.")
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
	if pid, alive := running(o.WorkDir); alive {
		return fmt.Errorf("a demo is already running from %s (pid %d): run make demo-down first", o.WorkDir, pid)
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
	if err := os.WriteFile(pidFile(o.WorkDir), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
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
	pid, wasRunning := running(workDir)
	if wasRunning {
		fmt.Printf("demo: stopping the demo (pid %d)\n", pid)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
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

// running reads the driver's pid and checks that it is alive.
func running(workDir string) (int, bool) {
	data, err := os.ReadFile(pidFile(workDir))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, alive(pid)
}

// alive: the process exists and has not exited (an exited process stays a zombie until its parent reaps it).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may itself contain spaces.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	return !strings.HasPrefix(strings.TrimSpace(rest), "Z")
}
