// Package demo brings the whole operator up on a local simulated cluster: the control plane and kwok nodes
// (internal/localcluster), the StorageOS API simulator, the operator's own install (config/default: CRDs,
// service accounts, RBAC, the webhook registration) and the four binaries as separate processes with their
// Deployments' flags, each authenticated as its own service account. make demo, the end-to-end and fault
// tests and the scale run all stand on it.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/proc"
	"github.com/storageos/cluster-operator/internal/prometheusrules"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/storageos/simulator"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// Binaries are the operator's four binaries, in the order they are started.
var Binaries = []string{"cluster-manager", "upgrade-manager", "job-manager", "scheduler-webhook"}

// Options configure a demo.
type Options struct {
	// Root is the repository: config/default is installed and config/samples applied from it.
	Root string
	// ClusterBinDir holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and kubectl.
	ClusterBinDir string
	// OperatorBinDir holds the four binaries.
	OperatorBinDir string
	// KwokStages are kwok's stage files.
	KwokStages []string
	// WorkDir holds everything the demo writes: certificates, etcd data, logs, kubeconfigs, the pids file.
	WorkDir string
	// Nodes is the number of simulated nodes (default 3).
	Nodes int
	// Replicas is the number of processes of each binary (default 1).
	Replicas int
	// ExtraArgs are appended to a binary's flags, by binary.
	ExtraArgs map[string][]string
	// NoSamples skips applying the sample secret and StorageOSCluster.
	NoSamples bool
	// ReadyTimeout bounds the wait for the sample cluster to be Running (default 3 minutes).
	ReadyTimeout time.Duration
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Started is told of every process started (name and pid).
	Started func(name string, pid int)
	// PrometheusBin is a Prometheus binary to run beside the operator (scraping it, with its alerts); empty
	// runs none.
	PrometheusBin string
	// Audit has the API server log every request of the four binaries (OperatorRequests counts them).
	Audit bool
}

// Namespace is where the operator's install puts its service accounts, leases and webhook Secret.
const Namespace = "storageos-operator"

// The sample the demo applies and waits for.
const (
	SampleCluster   = "example-storageoscluster"
	SampleNamespace = "default"
)

// Demo is a running demo.
type Demo struct {
	Cluster   *localcluster.Cluster
	Simulator *simulator.Simulator
	Client    client.Client
	Clientset kubernetes.Interface
	// Managers are the running binaries' processes, by binary.
	Managers map[string][]*Manager
	// Prometheus scrapes the managers, when Options.PrometheusBin is set.
	Prometheus *Prometheus

	o       Options
	install *install
	proxy   *serviceProxy
	// operatorStopped: the managers were stopped on purpose (uninstalled), so their exit is no failure.
	operatorStopped bool
	// stopSync ends the loops that play the parts of StorageOS and its provisioner; syncs waits for them.
	stopSync context.CancelFunc
	syncs    sync.WaitGroup
	pidsMu   sync.Mutex
}

// Up starts everything and returns once the sample StorageOSCluster is Running on every node (or, with
// NoSamples, once the operator is installed and its webhook registered). On any error everything started is
// stopped again, and the error says which step failed and where its logs are.
func Up(ctx context.Context, o Options) (_ *Demo, err error) {
	o.defaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	d := &Demo{o: o, Managers: map[string][]*Manager{}}
	defer func() {
		if err != nil {
			_ = d.Down()
		}
	}()
	if err := os.WriteFile(d.pidsFile(), nil, 0o644); err != nil {
		return nil, err
	}

	nodes := make([]string, o.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d", i+1)
	}
	if d.install, err = renderInstall(filepath.Join(o.Root, "config", "default")); err != nil {
		return nil, err
	}
	for _, b := range Binaries {
		if d.install.deployments[b] == nil {
			return nil, fmt.Errorf("config/default has no Deployment running /%s", b)
		}
	}
	var audited []string
	if o.Audit {
		audited = slices.Collect(maps.Keys(d.serviceAccountUsers()))
	}
	d.step("control plane and %d simulated nodes in %s", o.Nodes, o.WorkDir)
	d.Cluster, err = localcluster.Start(ctx, localcluster.Options{BinDir: o.ClusterBinDir, KwokStages: o.KwokStages,
		WorkDir: o.WorkDir, Nodes: nodes, Progress: o.Progress, Started: d.recordPid,
		SchedulerNames: []string{storageosScheduler}, PodLog: PodLog, AuditUsers: audited})
	if err != nil {
		return nil, err
	}
	scheme := manager.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if d.Client, err = client.New(d.Cluster.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if d.Clientset, err = kubernetes.NewForConfig(d.Cluster.Config); err != nil {
		return nil, err
	}

	creds, err := sampleCredentials(filepath.Join(o.Root, "config", "samples", "secret_storageos_api.yaml"))
	if err != nil {
		return nil, err
	}
	// Over HTTPS, as a production install with --storageos-api-ca-file: the managers verify its certificate.
	d.Simulator = simulator.NewTLS(creds)
	if err := os.WriteFile(d.apiCAFile(), d.Simulator.CAPEM(), 0o600); err != nil {
		return nil, err
	}
	d.step("StorageOS API simulator on %s", d.Simulator.URL())
	syncCtx, cancel := context.WithCancel(context.Background())
	d.stopSync = cancel
	d.syncs.Go(func() { d.syncStorageOSNodes(syncCtx) })
	if o.Progress != nil {
		d.syncs.Go(func() { d.watchUpgrades(syncCtx, time.Second) })
	}
	provisionerLog, err := os.Create(filepath.Join(d.Logs(), "provisioner.log"))
	if err != nil {
		return nil, err
	}
	d.step("volume provisioner for the StorageOS classes (no StorageOS CSI driver runs on simulated nodes)")
	p := &provisioner{c: d.Client, log: provisionerLog}
	d.syncs.Go(func() {
		defer provisionerLog.Close()
		p.run(syncCtx, 500*time.Millisecond)
	})

	d.step("operator CRDs, service accounts and RBAC from config/default")
	if err := d.planManagers(); err != nil {
		return nil, err
	}
	if err := d.installOperator(ctx); err != nil {
		return nil, err
	}

	d.step("%s: %d process(es) each, as their service accounts", strings.Join(Binaries, ", "), o.Replicas)
	if err := d.startManagers(ctx); err != nil {
		return nil, err
	}
	if err := d.waitStep(ctx, "scheduler webhook ready and registered with the API server", 2*time.Minute, d.webhookReady); err != nil {
		return nil, err
	}
	if o.PrometheusBin != "" {
		d.step("Prometheus scraping the four binaries as ServiceAccount %s/%s, with the alerts of %s",
			Namespace, prometheusServiceAccount, prometheusrules.Path)
		if err := d.startPrometheus(ctx); err != nil {
			return nil, err
		}
	}
	if o.NoSamples {
		return d, nil
	}

	if err := d.applySamples(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 3 * time.Minute
	}
}

// check finds what is missing before anything starts, and creates the work directory.
func (o *Options) check() error {
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(o.OperatorBinDir, b)); err != nil {
			return fmt.Errorf("%s is missing in %s: run make build", b, o.OperatorBinDir)
		}
	}
	if _, err := os.Stat(filepath.Join(o.ClusterBinDir, "kubectl")); err != nil {
		return fmt.Errorf("kubectl is missing in %s: run make cluster-bins", o.ClusterBinDir)
	}
	if o.PrometheusBin != "" {
		if _, err := os.Stat(o.PrometheusBin); err != nil {
			return fmt.Errorf("prometheus is missing: %w; run make prometheus", err)
		}
	}
	return os.MkdirAll(o.WorkDir, 0o755)
}

// applySamples applies the storageos-api secret and the seed's StorageOSCluster, and waits until it runs on
// every node.
func (d *Demo) applySamples(ctx context.Context) error {
	o := d.o
	d.step("config/samples: the storageos-api secret and the StorageOSCluster %s", SampleCluster)
	samples, err := readObjects(filepath.Join(o.Root, "config", "samples", "secret_storageos_api.yaml"),
		filepath.Join(o.Root, "config", "samples", "storageos_v1_storageoscluster.yaml"))
	if err != nil {
		return err
	}
	if err := apply(ctx, d.Client, samples); err != nil {
		return err
	}
	want := fmt.Sprintf("%d/%d", o.Nodes, o.Nodes)
	return d.waitStep(ctx, "kubectl get storageoscluster to show "+want+" Running", o.ReadyTimeout, func(ctx context.Context) error {
		return d.ClusterReady(ctx, want)
	})
}

// PodLog is what every simulated container prints: kwok serves one log for all of them (it selects logs by
// namespace, pod name and container name, none of which tell tasks apart), so it holds the last lines of the
// two tasks the operator reads logs of: the seed's cleanup Job ("done") and the upgrade's image pull.
const PodLog = "removing /var/lib/storageos\ndone\n" + upgrade.PullCompletionWord + "\n"

// storageosScheduler is the scheduler name the webhook gives pods with StorageOS volumes. In a real cluster the
// StorageOS scheduler (kube-scheduler with the StorageOS extender) serves it; here a second profile of the
// local kube-scheduler does, so those pods are scheduled too.
const storageosScheduler = "storageos-scheduler"

// ClusterReady checks that the sample StorageOSCluster is Running with want node pods ready (e.g. "3/3").
func (d *Demo) ClusterReady(ctx context.Context, want string) error {
	c := &storageosv1.StorageOSCluster{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: SampleNamespace, Name: SampleCluster}, c); err != nil {
		return err
	}
	if c.Status.Ready != want || c.Status.Phase != storageosv1.ClusterPhaseRunning {
		return fmt.Errorf("READY %q STATUS %q", c.Status.Ready, c.Status.Phase)
	}
	return nil
}

// Kubectl runs the local cluster's kubectl with the admin kubeconfig.
func (d *Demo) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(d.o.ClusterBinDir, "kubectl"), append([]string{"--kubeconfig", d.Cluster.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Down stops the binaries, the simulator and the cluster; nothing it started keeps running.
func (d *Demo) Down() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, ms := range d.Managers {
		for _, m := range ms {
			if m.Process == nil {
				continue
			}
			wg.Go(func() {
				if err := m.Stop(40 * time.Second); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if d.Prometheus != nil {
		errs = append(errs, d.Prometheus.Stop(10*time.Second))
	}
	if d.proxy != nil {
		d.proxy.Close()
	}
	if d.stopSync != nil {
		d.stopSync()
		d.syncs.Wait()
	}
	if d.Simulator != nil {
		d.Simulator.Close()
	}
	if d.Cluster != nil {
		errs = append(errs, d.Cluster.Stop())
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(d.pidsFile())
}

// Uninstall removes the operator as a careful make undeploy does: the CRDs first, while the managers still
// run to release the finalizers of the objects deleted with them, then the managers, then the rest of the
// install (RBAC, webhook registration, namespace).
func (d *Demo) Uninstall(ctx context.Context) error {
	var crds, rest []*unstructured.Unstructured
	for _, u := range d.install.objects {
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u)
		} else {
			rest = append(rest, u)
		}
	}
	gone := func(objects []*unstructured.Unstructured) func(context.Context) error {
		return func(ctx context.Context) error {
			for _, u := range objects {
				err := d.Client.Get(ctx, client.ObjectKeyFromObject(u), u.DeepCopy())
				if err == nil {
					return fmt.Errorf("%s %s is still there", u.GetKind(), u.GetName())
				}
				if !apierrors.IsNotFound(err) {
					return err
				}
			}
			return nil
		}
	}
	if err := deleteAll(ctx, d.Client, crds); err != nil {
		return err
	}
	if err := d.waitStep(ctx, "CRDs and every StorageOS object deleted", 2*time.Minute, gone(crds)); err != nil {
		return err
	}
	d.step("stopping the operator")
	d.operatorStopped = true
	for _, ms := range d.Managers {
		for _, m := range ms {
			if err := m.Stop(40 * time.Second); err != nil {
				return err
			}
		}
	}
	slices.Reverse(rest)
	if err := deleteAll(ctx, d.Client, rest); err != nil {
		return err
	}
	return d.waitStep(ctx, "RBAC, webhook registration and namespace deleted", 2*time.Minute, gone(rest))
}

func deleteAll(ctx context.Context, c client.Client, objects []*unstructured.Unstructured) error {
	for _, u := range objects {
		if err := client.IgnoreNotFound(c.Delete(ctx, u.DeepCopy())); err != nil {
			return fmt.Errorf("deleting %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// Logs is the directory of every component's log.
func (d *Demo) Logs() string { return filepath.Join(d.o.WorkDir, "logs") }

// apiCAFile holds the CA of the StorageOS API simulator, given to the managers with --storageos-api-ca-file.
func (d *Demo) apiCAFile() string { return filepath.Join(d.o.WorkDir, "storageos-api-ca.pem") }

func (d *Demo) step(format string, args ...any) {
	if d.o.Progress != nil {
		_, _ = fmt.Fprintf(d.o.Progress, "demo: "+format+"\n", args...)
	}
}

// waitStep announces a step and polls check until it passes, naming the step and the logs when it fails.
func (d *Demo) waitStep(ctx context.Context, what string, timeout time.Duration, check func(context.Context) error) error {
	d.step("waiting: %s", what)
	start := time.Now()
	if err := proc.Wait(ctx, what, timeout, d.running, check); err != nil {
		return fmt.Errorf("%w; the logs of every component are in %s", err, d.Logs())
	}
	d.step("done in %s: %s", time.Since(start).Round(100*time.Millisecond), what)
	return nil
}

// running are the managers' processes that must not exit: none once the operator was stopped on purpose.
func (d *Demo) running() []*proc.Process {
	var out []*proc.Process
	for _, ms := range d.Managers {
		for _, m := range ms {
			if m.Process != nil && !d.operatorStopped {
				out = append(out, m.Process)
			}
		}
	}
	return out
}

// installOperator applies the install with the webhook called by URL, and waits for the CRDs.
func (d *Demo) installOperator(ctx context.Context) error {
	if err := apply(ctx, d.Client, d.install.objects); err != nil {
		return err
	}
	return waitEstablished(ctx, d.Client, d.install.objects)
}

// webhookReady: every webhook process reports ready (its certificate verified as the API server would) and
// the CA it issued is in the MutatingWebhookConfiguration.
func (d *Demo) webhookReady(ctx context.Context) error {
	for _, m := range d.Managers["scheduler-webhook"] {
		if err := m.Ready(ctx); err != nil {
			return err
		}
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := d.Client.Get(ctx, client.ObjectKey{Name: webhookConfigurationName}, mwc); err != nil {
		return err
	}
	for _, w := range mwc.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			return fmt.Errorf("webhook %s has no caBundle yet", w.Name)
		}
	}
	return nil
}

const webhookConfigurationName = "storageos-scheduler-webhook"

func (d *Demo) pidsFile() string { return filepath.Join(d.o.WorkDir, "pids") }

// recordPid notes every process started, so that make demo-down can stop them even if the driver was killed.
func (d *Demo) recordPid(name string, pid int) {
	if d.o.Started != nil {
		d.o.Started(name, pid)
	}
	r, err := proc.RecordOf(name, pid)
	if err != nil {
		return // already gone
	}
	d.pidsMu.Lock()
	defer d.pidsMu.Unlock()
	f, err := os.OpenFile(d.pidsFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, r)
}

// KillLeftovers kills every process a demo in workDir started that is still running (after its driver was
// killed) and reports how many there were.
func KillLeftovers(workDir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(workDir, "pids"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var records []proc.Record
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if r, err := proc.ParseRecord(line); err == nil {
			records = append(records, r)
		}
	}
	n := proc.KillGroups(records)
	return n, os.Remove(filepath.Join(workDir, "pids"))
}

// syncStorageOSNodes plays StorageOS's part: a node joins the StorageOS cluster (online in the API) when its
// node pod is ready, and goes offline when the pod is not.
func (d *Demo) syncStorageOSNodes(ctx context.Context) {
	for {
		var pods corev1.PodList
		if err := d.Client.List(ctx, &pods, client.MatchingLabels(names.NodePodLabels())); err == nil {
			var nodes []storageos.Node
			for _, p := range pods.Items {
				if p.Spec.NodeName == "" || p.DeletionTimestamp != nil {
					continue
				}
				health := storageos.NodeHealthOffline
				if kube.PodReady(&p) {
					health = storageos.NodeHealthOnline
				}
				nodes = append(nodes, storageos.Node{ID: "storageos-" + p.Spec.NodeName, Name: p.Spec.NodeName, Health: health})
			}
			d.Simulator.SetNodes(nodes...)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}
