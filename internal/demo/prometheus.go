package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/proc"
	"github.com/storageos/cluster-operator/internal/prometheusrules"
)

// Prometheus is the demo's Prometheus: it scrapes every process of the four binaries on their secure metrics
// endpoints with a ServiceAccount token, as a Prometheus in the cluster would, and evaluates the alerts
// config/prometheus ships.
type Prometheus struct {
	*proc.Process
	// URL is Prometheus' HTTP API (and UI, when built with its assets).
	URL string
}

// The ServiceAccount Prometheus scrapes as, bound to the install's storageos-metrics-reader ClusterRole.
const (
	prometheusServiceAccount = "prometheus"
	metricsReaderRole        = "storageos-metrics-reader"
)

// prometheusInterval is the demo's scrape and rule evaluation interval: short, so that alerts follow within
// seconds of their `for`.
const prometheusInterval = 5 * time.Second

// startPrometheus writes Prometheus' configuration, the rules and a token, and starts it.
func (d *Demo) startPrometheus(ctx context.Context) error {
	dir := filepath.Join(d.o.WorkDir, "prometheus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	token, err := d.metricsReaderToken(ctx)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return err
	}
	rulesFile := filepath.Join(dir, "storageos-rules.yaml")
	if err := prometheusrules.WriteRulesFile(d.o.Root, rulesFile); err != nil {
		return err
	}
	config, err := d.prometheusConfig(tokenFile, rulesFile)
	if err != nil {
		return err
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		return err
	}
	ports, err := localcluster.FreePorts(1)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + ports[0]
	p, err := proc.Start("prometheus", d.o.PrometheusBin, []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--log.format=json",
	}, nil, filepath.Join(d.Logs(), "prometheus.log"))
	if err != nil {
		return err
	}
	d.recordPid(p.Name, p.Pid())
	d.Prometheus = &Prometheus{Process: p, URL: "http://" + addr}
	return d.waitStep(ctx, "Prometheus ready on "+d.Prometheus.URL, time.Minute, func(ctx context.Context) error {
		return proc.Ready(ctx, http.DefaultClient, d.Prometheus.URL+"/-/ready")
	})
}

// prometheusConfig scrapes each binary's processes as one job, over HTTPS with the token. The managers serve
// controller-runtime's self-signed certificate here (no --metrics-cert-path), so the certificate is not
// verified; a production install verifies it (config/prometheus).
func (d *Demo) prometheusConfig(tokenFile, rulesFile string) ([]byte, error) {
	type staticConfig struct {
		Targets []string `json:"targets"`
	}
	type scrapeConfig struct {
		JobName       string            `json:"job_name"`
		Scheme        string            `json:"scheme"`
		TLSConfig     map[string]any    `json:"tls_config"`
		Authorization map[string]string `json:"authorization"`
		StaticConfigs []staticConfig    `json:"static_configs"`
	}
	var scrapes []scrapeConfig
	for _, b := range Binaries {
		var targets []string
		for _, m := range d.Managers[b] {
			targets = append(targets, m.MetricsAddr)
		}
		scrapes = append(scrapes, scrapeConfig{
			JobName: b, Scheme: "https",
			TLSConfig:     map[string]any{"insecure_skip_verify": true},
			Authorization: map[string]string{"type": "Bearer", "credentials_file": tokenFile},
			StaticConfigs: []staticConfig{{Targets: targets}},
		})
	}
	interval := prometheusInterval.String()
	return yaml.Marshal(map[string]any{
		"global":         map[string]string{"scrape_interval": interval, "evaluation_interval": interval},
		"rule_files":     []string{rulesFile},
		"scrape_configs": scrapes,
	})
}

// metricsReaderToken creates Prometheus' ServiceAccount in the operator's namespace, binds it to the install's
// metrics reader role, and returns a token for it.
func (d *Demo) metricsReaderToken(ctx context.Context) (string, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: prometheusServiceAccount, Namespace: Namespace}}
	if err := d.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "storageos-demo-prometheus"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}},
	}
	if err := d.Client.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	tr, err := d.Clientset.CoreV1().ServiceAccounts(Namespace).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7 * 24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}

// Query evaluates an instant PromQL query and returns its samples' values by their labels' string form.
func (p *Prometheus) Query(ctx context.Context, query string) ([]Sample, error) {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(query), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, out.Error)
	}
	samples := make([]Sample, 0, len(out.Data.Result))
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v: %w", query, r.Value[1], err)
		}
		samples = append(samples, Sample{Labels: r.Metric, Value: v})
	}
	return samples, nil
}

// Sample is one series' value in a query result.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Alert is an alert Prometheus holds, pending or firing.
type Alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Alerts are the alerts Prometheus holds now.
func (p *Prometheus) Alerts(ctx context.Context) ([]Alert, error) {
	var out struct {
		Data struct {
			Alerts []Alert `json:"alerts"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &out); err != nil {
		return nil, err
	}
	return out.Data.Alerts, nil
}

func (p *Prometheus) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
