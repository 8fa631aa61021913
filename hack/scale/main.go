// Command scale is make scale: the operator on a local simulated cluster of many nodes running many
// StorageOS-backed applications. It prints the time to a Running cluster, the time for an offline upgrade of
// every node with every application scaled down and back, and each manager's peak memory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/localcluster"
)

func main() {
	var o demo.Options
	var apps int
	var keep bool
	flag.StringVar(&o.Root, "root", ".", "The repository.")
	flag.StringVar(&o.ClusterBinDir, "cluster-bins", "", "Directory of the control-plane binaries, kwok and kubectl.")
	flag.StringVar(&o.OperatorBinDir, "operator-bins", "bin", "Directory of the four operator binaries.")
	flag.IntVar(&o.Nodes, "nodes", 100, "Simulated nodes.")
	flag.IntVar(&apps, "apps", 200, "StorageOS-backed applications (Deployments of one replica, each with its own volume).")
	flag.BoolVar(&keep, "keep", false, "Keep the work directory (logs) afterwards.")
	flag.Parse()
	workDir, err := os.MkdirTemp("", "storageos-scale-")
	if err == nil {
		o.WorkDir = workDir
		err = run(o, apps)
		if err == nil && !keep {
			_ = os.RemoveAll(workDir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err, "\nlogs:", filepath.Join(workDir, "logs"))
		os.Exit(1)
	}
}

func run(o demo.Options, apps int) (err error) {
	ctx := context.Background()
	if o.KwokStages, err = localcluster.KwokStageFiles(o.Root); err != nil {
		return err
	}
	o.Progress, o.ReadyTimeout = os.Stdout, 10*time.Minute
	start := time.Now()
	d, err := demo.Up(ctx, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, d.Down()) }()
	ready := time.Since(start)

	start = time.Now()
	deployments, err := createApps(ctx, d, apps)
	if err != nil {
		return err
	}
	appsReady := time.Since(start)
	start = time.Now()
	if err := upgradeAll(ctx, d, deployments); err != nil {
		return err
	}
	upgrade := time.Since(start)

	fmt.Printf("\nscale: %d simulated nodes, %d StorageOS-backed applications\n", o.Nodes, apps)
	fmt.Printf("  StorageOSCluster %d/%d Running:   %s after start\n", o.Nodes, o.Nodes, ready.Round(100*time.Millisecond))
	fmt.Printf("  applications ready:             %s after creation\n", appsReady.Round(100*time.Millisecond))
	fmt.Printf("  offline upgrade, apps back:     %s\n", upgrade.Round(100*time.Millisecond))
	return printPeakRSS(d)
}

// createApps creates apps single-replica Deployments, each on a StorageOS claim of its own that the demo's
// provisioner gives a volume, and waits until they are ready.
func createApps(ctx context.Context, d *demo.Demo, apps int) ([]*appsv1.Deployment, error) {
	fmt.Printf("scale: creating %d StorageOS-backed applications\n", apps)
	var deployments []*appsv1.Deployment
	if err := d.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scale"}}); err != nil {
		return nil, err
	}
	for i := range apps {
		pvc, dep := demo.StorageOSApp("scale", fmt.Sprintf("app-%03d", i), 1)
		for _, obj := range []client.Object{pvc, dep} {
			if err := d.Client.Create(ctx, obj); err != nil {
				return nil, err
			}
		}
		deployments = append(deployments, dep)
	}
	return deployments, wait(ctx, 15*time.Minute, "every application ready", func() error { return allReady(ctx, d, deployments) })
}

// upgradeAll runs an offline upgrade of every node until the applications are back; the demo prints a line each
// time its step or the step's figure (applications scaled down, nodes upgraded, applications scaled up) changes.
func upgradeAll(ctx context.Context, d *demo.Demo, deployments []*appsv1.Deployment) error {
	fmt.Println("scale: upgrading every node to storageos/node:1.0.0")
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Name: "scale-upgrade", Namespace: "default"},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:1.0.0"}}
	if err := d.Client.Create(ctx, u); err != nil {
		return err
	}
	return wait(ctx, 30*time.Minute, "the upgrade completed", func() error {
		if err := d.Client.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
			return err
		}
		if u.Status.Phase == storageosv1.UpgradePhaseFailed {
			return fmt.Errorf("upgrade failed: %+v", u.Status.Conditions)
		}
		if !u.Status.Completed {
			return fmt.Errorf("phase %s", u.Status.Phase)
		}
		return allReady(ctx, d, deployments)
	})
}

// printPeakRSS prints each manager process's peak memory.
func printPeakRSS(d *demo.Demo) error {
	fmt.Println("  peak RSS (VmHWM) per process:")
	var names []string
	rss := map[string]int64{}
	for _, ms := range d.Managers {
		for _, m := range ms {
			peak, err := m.PeakRSS()
			if err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			names = append(names, m.Name)
			rss[m.Name] = peak
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("    %-22s %6.1f MiB\n", n, float64(rss[n])/(1<<20))
	}
	return nil
}

// allReady: every application has its one replica ready.
func allReady(ctx context.Context, d *demo.Demo, deployments []*appsv1.Deployment) error {
	var list appsv1.DeploymentList
	if err := d.Client.List(ctx, &list, client.InNamespace("scale")); err != nil {
		return err
	}
	ready := 0
	for _, dep := range list.Items {
		if ptr.Deref(dep.Spec.Replicas, 1) == 1 && dep.Status.ReadyReplicas == 1 && dep.Status.ObservedGeneration == dep.Generation {
			ready++
		}
	}
	if ready != len(deployments) {
		return fmt.Errorf("%d of %d applications ready", ready, len(deployments))
	}
	return nil
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

			fmt.Printf("scale: waiting for %s: %v\n", what, err)

			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
