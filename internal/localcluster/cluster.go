// Package localcluster runs a Kubernetes control plane with simulated nodes on loopback: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (nodes and pods without kubelets), all built
// from Go modules (hack/k8stools). The DaemonSet, Deployment and StatefulSet controllers, the scheduler and the
// kubelets' part (kwok) are real or simulated as in a cluster, so operators can be run against it end to end.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/proc"
)

// FakeNodeAnnotation marks the nodes kwok manages. They are not tainted: every node of a local cluster is
// simulated, so workloads need no toleration to run on them (a StorageOSCluster without tolerations included).
const FakeNodeAnnotation = "kwok.x-k8s.io/node"

// Options configure a local cluster.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.
	BinDir string
	// KwokStages are kwok's stage files (node initialisation and heartbeat, pod readiness and deletion).
	KwokStages []string
	// WorkDir holds certificates, data, logs and the kubeconfig.
	WorkDir string
	// Nodes are the simulated nodes' names.
	Nodes []string
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
	// Started is told of every process started (name and pid, which is also its process group), so that a
	// driver can clean up after itself even if it is killed.
	Started func(name string, pid int)
	// SchedulerNames are extra scheduler names the kube-scheduler serves (as profiles like the default one),
	// standing in for secondary schedulers such as StorageOS's.
	SchedulerNames []string
	// PodLog is what `kubectl logs` returns for every container of every pod on the simulated nodes (kwok
	// serves it as the kubelet would); empty means no logs are configured and the request fails.
	PodLog string
	// AuditUsers, when set, are the users whose requests the API server writes to its audit log (AuditLog,
	// metadata only, one line per completed request): how a scale run counts each manager's requests from the
	// API server's side rather than the managers' own.
	AuditUsers []string
}

// Cluster is a running local cluster.
type Cluster struct {
	// Kubeconfig is the admin kubeconfig's path; Config the same as a REST config.
	Kubeconfig string
	Config     *rest.Config
	Client     client.Client

	procs []*proc.Process
	o     Options
	// http reaches the API server as admin, for /readyz.
	http *http.Client
	// stopLogs ends the refreshing of the simulated pod log; logsDone says it has ended.
	stopLogs, logsDone chan struct{}
	// down are the nodes SetNodeReady took down, with their status before.
	down   map[string]corev1.NodeStatus
	downMu sync.Mutex
	// AuditLog is the API server's audit log of Options.AuditUsers' requests; empty without them.
	AuditLog string
}

// Start brings the control plane up, then the nodes, and returns once every node is Ready. On any error what
// was started is stopped again.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	c = &Cluster{o: o}
	defer func() {
		if err != nil {
			_ = c.Stop()
			c = nil
		}
	}()
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, bin)); err != nil {
			return nil, fmt.Errorf("%s is missing in %s: run make cluster-bins", bin, o.BinDir)
		}
	}
	p, err := newPKI(filepath.Join(o.WorkDir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	etcdURL, err := c.startEtcd(ports[0], ports[1])
	if err != nil {
		return nil, err
	}
	if err := c.startAPIServer(ctx, p, etcdURL, ports[2]); err != nil {
		return nil, err
	}
	if err := c.startControllers(p); err != nil {
		return nil, err
	}
	if err := c.startNodes(ctx, ports[3]); err != nil {
		return nil, err
	}
	c.step("ready: kubeconfig %s", c.Kubeconfig)
	return c, nil
}

// startEtcd starts etcd on loopback and returns its client URL.
func (c *Cluster) startEtcd(clientPort, peerPort string) (string, error) {
	etcdURL, peerURL := "http://127.0.0.1:"+clientPort, "http://127.0.0.1:"+peerPort
	c.step("etcd on %s", etcdURL)
	if err := c.run("etcd", "--name=default", "--data-dir="+filepath.Join(c.o.WorkDir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		// 8 GiB, etcd's recommended maximum: the default 2 GiB fills up with the revisions of thousands of
		// nodes' heartbeats and pods before compaction catches up.
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--quota-backend-bytes=8589934592"); err != nil {
		return "", err
	}
	return etcdURL, nil
}

// startAPIServer starts kube-apiserver on port, writes the admin kubeconfig and waits until it serves.
func (c *Cluster) startAPIServer(ctx context.Context, p *pki, etcdURL, port string) (err error) {
	host := "https://127.0.0.1:" + port
	c.step("kube-apiserver on %s", host)
	args := []string{"--etcd-servers=" + etcdURL, "--bind-address=127.0.0.1", "--secure-port=" + port,
		"--tls-cert-file=" + p.serverCert, "--tls-private-key-file=" + p.serverKey, "--client-ca-file=" + p.caCert,
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + p.serviceAccountPub,
		"--service-account-signing-key-file=" + p.serviceAccountKey, "--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC", "--allow-privileged=true"}
	if len(c.o.AuditUsers) > 0 {
		policy := filepath.Join(c.o.WorkDir, "audit-policy.yaml")
		if err := writeAuditPolicy(policy, c.o.AuditUsers); err != nil {
			return err
		}
		c.AuditLog = filepath.Join(c.o.WorkDir, "audit.log")
		args = append(args, "--audit-policy-file="+policy, "--audit-log-path="+c.AuditLog,
			"--audit-log-format=json", "--audit-log-maxbackup=0")
	}
	if err := c.run("kube-apiserver", args...); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.o.WorkDir, "kubeconfig")
	admin := &clientcmdapi.AuthInfo{ClientCertificate: p.adminCert, ClientKey: p.adminKey}
	if err := WriteKubeconfig(c.Kubeconfig, host, p.caCert, admin, ""); err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	// The admin client sets the cluster up and drives tests and scale runs: client-go's default of 5 requests
	// a second would make creating a thousand nodes take minutes.
	c.Config.QPS, c.Config.Burst = 1000, 2000
	if c.http, err = rest.HTTPClientFor(c.Config); err != nil {
		return err
	}
	if err := c.waitReady(ctx, "kube-apiserver", 2*time.Minute, c.apiserverReady); err != nil {
		return err
	}
	c.Client, err = client.New(c.Config, client.Options{})
	return err
}

// startControllers starts kube-controller-manager and kube-scheduler.
func (c *Cluster) startControllers(p *pki) error {
	c.step("kube-controller-manager and kube-scheduler")
	kc := "--kubeconfig=" + c.Kubeconfig
	if err := c.run("kube-controller-manager", kc, "--authentication-kubeconfig="+c.Kubeconfig,
		"--authorization-kubeconfig="+c.Kubeconfig, "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
		"--service-account-private-key-file="+p.serviceAccountKey, "--root-ca-file="+p.caCert,
		"--use-service-account-credentials=true", "--cluster-signing-cert-file="+p.caCert,
		"--cluster-signing-key-file="+p.caKey, "--controllers=*",
		// A node whose lease kwok renews late (thousands of them on two cores) must not turn NotReady: the
		// node lifecycle controller would mark its pods unready, and kwok never makes them ready again. Twice
		// the lease duration: 80 s up to 1,000 nodes (the controller's default is 50 s).
		fmt.Sprintf("--node-monitor-grace-period=%s", 2*nodeLeaseDuration(len(c.o.Nodes))),
		// Client-side rate limits off (as kwokctl's --disable-qps-limits does): with the default 20 requests a
		// second, the DaemonSet controller alone needs minutes for thousands of pods, and that would be the
		// figure measured rather than the API server's.
		"--kube-api-qps="+clientQPS, "--kube-api-burst="+clientBurst); err != nil {
		return err
	}
	schedulerConfig := filepath.Join(c.o.WorkDir, "kube-scheduler.yaml")
	if err := writeSchedulerConfig(schedulerConfig, c.Kubeconfig, c.o.SchedulerNames); err != nil {
		return err
	}
	return c.run("kube-scheduler", "--config="+schedulerConfig, "--authentication-kubeconfig="+c.Kubeconfig,
		"--authorization-kubeconfig="+c.Kubeconfig, "--bind-address=127.0.0.1", "--secure-port=0")
}

// startNodes starts kwok, serving the kubelet API of every simulated node on port, and waits for the nodes.
func (c *Cluster) startNodes(ctx context.Context, port string) error {
	c.step("kwok with %d simulated nodes", len(c.o.Nodes))
	stages := filepath.Join(c.o.WorkDir, "kwok-stages.yaml")
	if err := concatenate(stages, c.o.KwokStages); err != nil {
		return err
	}
	if err := appendTo(stages, kwokConfiguration); err != nil {
		return err
	}
	if c.o.PodLog != "" {
		if err := c.addPodLog(stages, filepath.Join(c.o.WorkDir, "kwok-pod.log"), c.o.PodLog); err != nil {
			return err
		}
	}
	// kwok's server stands in for every node's kubelet: node-initialize reports --node-ip as the nodes'
	// InternalIP and --node-port as their kubelet port, which the API server dials for pods/log (over TLS
	// with kwok's self-signed certificate: without --kubelet-certificate-authority it does not verify it).
	if err := c.run("kwok", "--kubeconfig="+c.Kubeconfig, "-c", stages, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		fmt.Sprintf("--node-lease-duration-seconds=%d", int(nodeLeaseDuration(len(c.o.Nodes)).Seconds())),
		"--cidr=10.244.0.0/16", "--node-ip=127.0.0.1", "--node-port="+port,
		"--server-address=127.0.0.1:"+port); err != nil {
		return err
	}
	for _, name := range c.o.Nodes {
		if err := c.Client.Create(ctx, fakeNode(name)); err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
	}
	// kwok takes on a thousand nodes in well under a minute here; a minute more per thousand leaves room on a
	// loaded machine.
	return c.waitReady(ctx, "nodes", 2*time.Minute+time.Duration(len(c.o.Nodes))*60*time.Millisecond, c.nodesReady)
}

func (c *Cluster) step(format string, args ...any) {
	if c.o.Progress != nil {
		_, _ = fmt.Fprintf(c.o.Progress, "localcluster: "+format+"\n", args...)
	}
}

// run starts a component, logging to <WorkDir>/logs/<name>.log.
func (c *Cluster) run(name string, args ...string) error {
	p, err := proc.Start(name, filepath.Join(c.o.BinDir, name), args, nil, filepath.Join(c.o.WorkDir, "logs", name+".log"))
	if err != nil {
		return err
	}
	if c.o.Started != nil {
		c.o.Started(name, p.Pid())
	}
	c.procs = append(c.procs, p)
	return nil
}

// RestartAPIServer kills the API server (SIGKILL, as in a crash or a control-plane node reboot: a graceful
// stop waits for its clients' open watches to drain, which can take minutes) and starts it again on the same
// address and etcd, and returns once it is ready. It reports how long the API was unavailable.
func (c *Cluster) RestartAPIServer(ctx context.Context) (time.Duration, error) {
	return c.restart(ctx, "kube-apiserver")
}

// RestartEtcd kills etcd (SIGKILL) and starts it again on the same addresses and data, and returns once the
// API server serves again. It reports how long the API was unavailable.
func (c *Cluster) RestartEtcd(ctx context.Context) (time.Duration, error) {
	return c.restart(ctx, "etcd")
}

// restart kills a control-plane component, starts it again with the same arguments and log, and waits for the
// API server to be ready.
func (c *Cluster) restart(ctx context.Context, name string) (time.Duration, error) {
	i := slices.IndexFunc(c.procs, func(p *proc.Process) bool { return p.Name == name && !p.Exited() })
	if i < 0 {
		return 0, fmt.Errorf("%s is not running", name)
	}
	start := time.Now()
	old := c.procs[i]
	old.Kill()
	<-old.Done()
	bin, args := old.Command()
	p, err := proc.Start(name, bin, args, nil, old.LogPath)
	if err != nil {
		return 0, err
	}
	if c.o.Started != nil {
		c.o.Started(p.Name, p.Pid())
	}
	c.procs[i] = p
	err = c.waitReady(ctx, "kube-apiserver", 2*time.Minute, c.apiserverReady)
	return time.Since(start), err
}

// SetNodeReady takes a simulated node down (NotReady) or brings it back, as a node whose kubelet stops and
// starts again. Down: kwok stops managing it (no heartbeat, no Lease renewal, no pod started or removed there)
// and its Ready condition turns False, so Kubernetes taints it; its pods keep the status they had (after the
// node monitor's grace period, longer than the soak's outages, Kubernetes would mark them not ready). Back: its
// status is Ready again with the addresses it had, kwok manages it again, and any of its running pods marked
// not ready meanwhile is ready again, as its kubelet would report (kwok readies only pods it starts).
func (c *Cluster) SetNodeReady(ctx context.Context, name string, ready bool) error {
	node := &corev1.Node{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		return err
	}
	if !ready {
		c.downMu.Lock()
		if c.down == nil {
			c.down = map[string]corev1.NodeStatus{}
		}
		if _, ok := c.down[name]; !ok {
			c.down[name] = *node.Status.DeepCopy()
		}
		c.downMu.Unlock()
		// Unmanaged first: kwok would otherwise initialise a node that is not Ready at once.
		base := node.DeepCopy()
		delete(node.Annotations, FakeNodeAnnotation)
		if err := c.Client.Patch(ctx, node, client.MergeFrom(base)); err != nil {
			return err
		}
		return c.setReadyCondition(ctx, node, node.DeepCopy(), corev1.ConditionFalse, "KubeletNotReady")
	}
	c.downMu.Lock()
	was, ok := c.down[name]
	c.downMu.Unlock()
	base := node.DeepCopy()
	if ok && len(node.Status.Addresses) == 0 {
		node.Status.Addresses = was.Addresses
	}
	if err := c.setReadyCondition(ctx, node, base, corev1.ConditionTrue, "KubeletReady"); err != nil {
		return err
	}
	base = node.DeepCopy()
	metav1.SetMetaDataAnnotation(&node.ObjectMeta, FakeNodeAnnotation, "fake")
	if err := c.Client.Patch(ctx, node, client.MergeFrom(base)); err != nil {
		return err
	}
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.MatchingFields{"spec.nodeName": name}); err != nil {
		return err
	}
	for i := range pods.Items {
		if err := readyAgain(ctx, c.Client, &pods.Items[i]); err != nil {
			return err
		}
	}
	c.downMu.Lock()
	delete(c.down, name)
	c.downMu.Unlock()
	return nil
}

// setReadyCondition writes the node's Ready condition, and whatever else of its status the caller changed since
// base.
func (c *Cluster) setReadyCondition(ctx context.Context, node, base *corev1.Node, status corev1.ConditionStatus, reason string) error {
	now := metav1.Now()
	for i := range node.Status.Conditions {
		cond := &node.Status.Conditions[i]
		if cond.Type != corev1.NodeReady {
			continue
		}
		if cond.Status != status {
			cond.LastTransitionTime = now
		}
		cond.Status, cond.Reason, cond.LastHeartbeatTime = status, reason, now
		cond.Message = "set by the local cluster: " + reason
	}
	return c.Client.Status().Patch(ctx, node, client.MergeFrom(base))
}

// readyAgain marks a running pod's containers ready, as its kubelet does once back.
func readyAgain(ctx context.Context, c client.Client, pod *corev1.Pod) error {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return nil
	}
	base := pod.DeepCopy()
	changed := false
	for i := range pod.Status.Conditions {
		cond := &pod.Status.Conditions[i]
		if (cond.Type == corev1.PodReady || cond.Type == corev1.ContainersReady) && cond.Status != corev1.ConditionTrue {
			cond.Status, cond.LastTransitionTime, cond.Reason, cond.Message = corev1.ConditionTrue, metav1.Now(), "", ""
			changed = true
		}
	}
	for i := range pod.Status.ContainerStatuses {
		pod.Status.ContainerStatuses[i].Ready = true
	}
	if !changed {
		return nil
	}
	return client.IgnoreNotFound(c.Status().Patch(ctx, pod, client.MergeFrom(base)))
}

// waitReady polls check until it succeeds, the deadline passes or a component exits.
func (c *Cluster) waitReady(ctx context.Context, what string, timeout time.Duration, check func(context.Context) error) error {
	return proc.Wait(ctx, what, timeout, func() []*proc.Process { return c.procs }, check)
}

func (c *Cluster) apiserverReady(ctx context.Context) error {
	return proc.Ready(ctx, c.http, c.Config.Host+"/readyz")
}

func (c *Cluster) nodesReady(ctx context.Context) error {
	var nodes corev1.NodeList
	if err := c.Client.List(ctx, &nodes); err != nil {
		return err
	}
	ready := 0
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < len(c.o.Nodes) {
		return fmt.Errorf("%d of %d nodes Ready", ready, len(c.o.Nodes))
	}
	return nil
}

// Stop stops the components in reverse order (etcd last: the API server hangs on shutdown without it),
// each with SIGTERM, then SIGKILL after a grace period.
func (c *Cluster) Stop() error {
	var errs []error
	if c.stopLogs != nil {
		close(c.stopLogs)
		<-c.logsDone
		c.stopLogs = nil
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].Stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	c.procs = nil
	return errors.Join(errs...)
}

// clientQPS and clientBurst are the controller-manager's and scheduler's client rate limits: high enough never
// to be what a local cluster waits for.
const clientQPS, clientBurst = "5000", "10000"

// writeAuditPolicy logs users' requests, metadata only, once each as it completes; nobody else's.
func writeAuditPolicy(path string, users []string) error {
	var b strings.Builder
	b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  users:\n")
	for _, u := range users {
		fmt.Fprintf(&b, "  - %q\n", u)
	}
	b.WriteString("- level: None\n")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func fakeNode(name string) *corev1.Node {
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{FakeNodeAnnotation: "fake"},
			Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"}},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

// WriteKubeconfig writes a kubeconfig for server (trusting caFile) that authenticates as user, in namespace
// when not empty. The file is readable by its owner only: it holds credentials.
func WriteKubeconfig(path, server, caFile string, user *clientcmdapi.AuthInfo, namespace string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["local"] = user
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "local", Namespace: namespace}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

// writeSchedulerConfig serves the default scheduler name and the extra ones, each as a profile of its own.
func writeSchedulerConfig(path, kubeconfig string, extraNames []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n")
	fmt.Fprintf(&b, "clientConnection:\n  kubeconfig: %q\n  qps: %s\n  burst: %s\nleaderElection:\n  leaderElect: false\nprofiles:\n",
		kubeconfig, clientQPS, clientBurst)
	for _, name := range append([]string{corev1.DefaultSchedulerName}, extraNames...) {
		fmt.Fprintf(&b, "- schedulerName: %s\n", name)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// nodeLeaseDuration is the simulated nodes' lease duration; kwok renews a lease every quarter of it. Kubelets'
// 40 s is kept up to 1,000 nodes; beyond, it grows with the nodes so that renewals stay at 100 a second
// (5,000 nodes renewing every 10 s would be 500 writes a second, most of what two cores can take, and nodes
// would turn NotReady while their renewals queue).
func nodeLeaseDuration(nodes int) time.Duration {
	return max(40*time.Second, time.Duration(nodes)*time.Second/25)
}

// kwokConfiguration raises kwok's workers from 4 (1 syncing pods) to what thousands of nodes need: with the
// defaults, kwok renews at most a few dozen node leases a second and a 1,000-node cluster takes minutes to be
// Ready, its nodes flapping meanwhile. The workers wait on the API server, not on a core. A configuration read
// from a file gets none of kwok's defaults, so those the cluster relies on are spelled out: the debugging
// handlers serve pods/log.
const kwokConfiguration = `---
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  enableDebuggingHandlers: true
  enableProfilingHandler: true
  enablePodsOnNodeSyncListPager: true
  nodeLeaseParallelism: 32
  nodePlayStageParallelism: 16
  podPlayStageParallelism: 32
  podsOnNodeSyncParallelism: 8
`

// appendTo appends text to a file.
func appendTo(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

func concatenate(out string, files []string) error {
	var parts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("kwok stage file: %w", err)
		}
		parts = append(parts, strings.TrimSpace(string(data)))
	}
	return os.WriteFile(out, []byte(strings.Join(parts, "\n---\n")+"\n"), 0o600)
}

// addPodLog appends a ClusterLogs document serving logFile for every container of every pod in every
// namespace, and keeps logFile current (see printPodLog).
func (c *Cluster) addPodLog(stages, logFile, text string) error {
	if err := printPodLog(logFile, text); err != nil {
		return err
	}
	if err := appendTo(stages, fmt.Sprintf(`---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: pod-log
spec:
  logs:
  - logsFile: %s
`, strconv.Quote(logFile))); err != nil {
		return err
	}
	// Readers ask for what a container printed since it started (as the job-manager does), so the lines are
	// stamped again every second, as if every simulated container kept printing them.
	c.stopLogs, c.logsDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(c.logsDone)
		for {
			select {
			case <-c.stopLogs:
				return
			case <-time.After(time.Second):
				_ = printPodLog(logFile, text)
			}
		}
	}()
	return nil
}

// printPodLog writes text as a container log in the CRI format kwok reads ("<RFC3339Nano> stdout F <line>";
// plain text is rejected as "unsupported log format"), stamped now, replacing the file atomically.
func printPodLog(logFile, text string) error {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Fprintf(&b, "%s stdout F %s\n", now, line)
	}
	tmp := logFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, logFile)
}

// FreePorts finds n unused loopback ports, never the same one twice in a process. They are taken below the
// kernel's ephemeral range when it leaves room: ports handed out for :0 and the source ports of outgoing
// connections (of which a control plane makes many) come from that range, so a port found free there can be
// taken again before the component that is given it binds it.
func FreePorts(n int) ([]string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	low := ephemeralLow()
	var out []string
	for attempts := 0; len(out) < n; attempts++ {
		if attempts > 10000 {
			return nil, errors.New("no free loopback port found")
		}
		port := 0
		if low > minStaticPort+1000 {
			port = minStaticPort + rand.IntN(low-minStaticPort) //nolint:gosec // G404: picks a port to try, not a secret
			if handedOut[port] {
				continue
			}
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			if port == 0 {
				return nil, err
			}
			continue
		}
		port = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if handedOut[port] {
			continue
		}
		handedOut[port] = true
		out = append(out, strconv.Itoa(port))
	}
	return out, nil
}

// minStaticPort is the lowest port FreePorts uses: above the well-known and most registered services.
const minStaticPort = 20000

var (
	portsMu   sync.Mutex
	handedOut = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range (32768 when it cannot be read).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil {
		return 32768
	}
	return low
}
