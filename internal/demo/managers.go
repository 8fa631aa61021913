package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/proc"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// Manager is one process of one of the operator's binaries.
type Manager struct {
	*proc.Process
	Binary  string
	Replica int
	// HealthAddr serves /healthz and /readyz.
	HealthAddr string
	// MetricsAddr serves /metrics over HTTPS to callers allowed to read it.
	MetricsAddr string

	bin       string
	args, env []string
	// logOffset is where this run's output starts in the log, which restarts append to.
	logOffset int64
	started   func(string, int)
}

// planManagers lays out o.Replicas processes of each binary with the flags of its Deployment in config/default
// plus what running outside a pod needs, and the loopback balancer the API server reaches the webhooks through.
func (d *Demo) planManagers() error {
	var webhookPorts []string
	for _, b := range Binaries {
		dep := d.install.deployments[b]
		kubeconfig := filepath.Join(d.o.WorkDir, "kubeconfig-"+b)
		env := append(containerEnv(dep), "KUBECONFIG="+kubeconfig)
		for i := range d.o.Replicas {
			ports, err := localcluster.FreePorts(3)
			if err != nil {
				return err
			}
			args := append([]string{}, dep.Spec.Template.Spec.Containers[0].Args...)
			// Later flags win: loopback ports instead of the container's fixed ones.
			args = append(args, "--health-probe-bind-address=127.0.0.1:"+ports[0], "--metrics-bind-address=127.0.0.1:"+ports[1])
			switch b {
			case "scheduler-webhook":
				args = append(args, "--webhook-port="+ports[2], "--webhook-cert-dir="+filepath.Join(d.o.WorkDir, fmt.Sprintf("%s-%d-certs", b, i)),
					"--cert-extra-dns-names=localhost")
				webhookPorts = append(webhookPorts, ports[2])
			default:
				// In a pod the Lease's namespace is the pod's; outside it must be named.
				args = append(args, "--leader-election-namespace="+dep.Namespace)
			}
			if b == "cluster-manager" || b == "upgrade-manager" {
				args = append(args, "--storageos-api-endpoint="+d.Simulator.URL(), "--storageos-api-ca-file="+d.apiCAFile())
			}
			args = append(args, d.o.ExtraArgs[b]...)
			d.Managers[b] = append(d.Managers[b], &Manager{Binary: b, Replica: i, HealthAddr: "127.0.0.1:" + ports[0],
				MetricsAddr: "127.0.0.1:" + ports[1],
				bin:         filepath.Join(d.o.OperatorBinDir, b), args: args, env: env, started: d.recordPid})
		}
	}
	proxy, err := newServiceProxy(webhookPorts)
	if err != nil {
		return err
	}
	d.proxy = proxy
	for _, u := range d.install.objects {
		if u.GetKind() == "MutatingWebhookConfiguration" {
			if err := callWebhookAt(u, "https://localhost:"+proxy.Port()); err != nil {
				return err
			}
		}
	}
	return nil
}

// startManagers gives each binary a kubeconfig of its own service account and starts its processes.
func (d *Demo) startManagers(ctx context.Context) error {
	for _, b := range Binaries {
		dep := d.install.deployments[b]
		if err := serviceAccountKubeconfig(ctx, d.Clientset, d.Cluster.Config.Host, d.Cluster.Config.CAFile, dep.Namespace,
			dep.Spec.Template.Spec.ServiceAccountName, filepath.Join(d.o.WorkDir, "kubeconfig-"+b)); err != nil {
			return err
		}
		for _, m := range d.Managers[b] {
			if err := m.start(d.Logs()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Manager) start(logDir string) error {
	logPath := filepath.Join(logDir, fmt.Sprintf("%s-%d.log", m.Binary, m.Replica))
	if fi, err := os.Stat(logPath); err == nil {
		m.logOffset = fi.Size()
	}
	p, err := proc.Start(fmt.Sprintf("%s-%d", m.Binary, m.Replica), m.bin, m.args, m.env, logPath)
	if err != nil {
		return err
	}
	m.Process = p
	if m.started != nil {
		m.started(p.Name, p.Pid())
	}
	return nil
}

// Restart starts the process again after it exited or was killed, as a kubelet restarts a container.
func (m *Manager) Restart() error {
	if m.Process == nil {
		return fmt.Errorf("%s-%d was never started", m.Binary, m.Replica)
	}
	if !m.Exited() {
		return fmt.Errorf("%s is still running", m.Name)
	}
	return m.start(filepath.Dir(m.LogPath))
}

// Ready checks the process's /readyz.
func (m *Manager) Ready(ctx context.Context) error {
	return proc.Ready(ctx, http.DefaultClient, "http://"+m.HealthAddr+"/readyz")
}

// RunLog is what this run of the process has logged (not earlier runs).
func (m *Manager) RunLog() string {
	data, err := os.ReadFile(m.LogPath)
	if err != nil || int64(len(data)) < m.logOffset {
		return ""
	}
	return string(data[m.logOffset:])
}

// Leading reports whether this run of the process has taken its leader Lease.
func (m *Manager) Leading() bool {
	// client-go's leader election logs this once the Lease is taken (through the manager's logger, capitalised).
	return m.Process != nil && !m.Exited() && strings.Contains(strings.ToLower(m.RunLog()), "successfully acquired lease")
}

// Leader is the running process of binary that says (in its log) it took the Lease; the Lease must have a
// holder. The e2e tests also check that the holder changes when a leader is killed.
func (d *Demo) Leader(ctx context.Context, binary string) (*Manager, error) {
	var leading []*Manager
	for _, m := range d.Managers[binary] {
		if m.Leading() {
			leading = append(leading, m)
		}
	}
	if len(leading) != 1 {
		return nil, fmt.Errorf("%d running %s processes say they lead", len(leading), binary)
	}
	lease := &coordinationv1.Lease{}
	if err := d.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: binary + ".storageos.com"}, lease); err != nil {
		return nil, err
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		return nil, fmt.Errorf("lease %s has no holder", lease.Name)
	}
	return leading[0], nil
}

// sampleCredentials reads the API username and password of the sample secret, which the simulator accepts.
func sampleCredentials(path string) (storageos.Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return storageos.Credentials{}, err
	}
	var secret struct {
		Data map[string][]byte `json:"data"`
	}
	if err := yaml.Unmarshal(data, &secret); err != nil {
		return storageos.Credentials{}, fmt.Errorf("%s: %w", path, err)
	}
	creds := storageos.CredentialsFromSecret(secret.Data)
	if creds.Username == "" || creds.Password == "" {
		return creds, fmt.Errorf("%s has no apiUsername and apiPassword", path)
	}
	return creds, nil
}
