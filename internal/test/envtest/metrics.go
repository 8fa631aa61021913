package envtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/storageos/cluster-operator/pkg/manager"
)

// metricsAddrs are the addresses ServeMetrics chose: NewManager serves metrics only on those.
var metricsAddrs sync.Map

// ServeMetrics makes the manager NewManager builds from o serve its metrics as the binaries do (HTTPS, callers
// authenticated and authorised by the API server) on a free loopback port, and returns that address.
func ServeMetrics(o *manager.Options) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", err
	}
	o.MetricsBindAddress, o.SecureMetrics = addr, true
	metricsAddrs.Store(addr, struct{}{})
	return addr, nil
}

// MetricsReaderToken is a token of a new ServiceAccount in namespace ns allowed to get /metrics, as Prometheus'
// ServiceAccount is by config/rbac/metrics_reader_role.yaml.
func (e *Environment) MetricsReaderToken(t testing.TB, ns string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader", Namespace: ns}}
	require.NoError(t, e.Client.Create(ctx, sa))
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	require.NoError(t, e.Client.Create(ctx, role))
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
	}
	require.NoError(t, e.Client.Create(ctx, binding))
	t.Cleanup(func() {
		_ = e.Client.Delete(ctx, binding)
		_ = e.Client.Delete(ctx, role)
	})
	tr := &authenticationv1.TokenRequest{}
	require.NoError(t, e.Client.SubResource("token").Create(ctx, sa, tr))
	require.NotEmpty(t, tr.Status.Token)
	return tr.Status.Token
}

var scrapeClient = &http.Client{
	Timeout: 10 * time.Second,
	// The metrics server's certificate is self-signed when no certificate directory is given.
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // test only, loopback
}

// Scrape reads the metrics served at addr (https) with token, as Prometheus does, and parses them.
func Scrape(addr, token string) (Metrics, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", addr, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	return Metrics(families), err
}

// Metrics are the metric families of one scrape, by name.
type Metrics map[string]*dto.MetricFamily

// Value is the value of the sample of family name whose labels include labels, and whether there is one (the
// first, when several match).
func (m Metrics) Value(name string, labels map[string]string) (float64, bool) {
	family, ok := m[name]
	if !ok {
		return 0, false
	}
	for _, metric := range family.GetMetric() {
		if matches(metric, labels) {
			switch {
			case metric.GetGauge() != nil:
				return metric.GetGauge().GetValue(), true
			case metric.GetCounter() != nil:
				return metric.GetCounter().GetValue(), true
			case metric.GetUntyped() != nil:
				return metric.GetUntyped().GetValue(), true
			}
		}
	}
	return 0, false
}

// Count is how many samples of family name have labels including labels.
func (m Metrics) Count(name string, labels map[string]string) int {
	n := 0
	for _, metric := range m[name].GetMetric() {
		if matches(metric, labels) {
			n++
		}
	}
	return n
}

func matches(metric *dto.Metric, labels map[string]string) bool {
	found := 0
	for _, l := range metric.GetLabel() {
		if want, ok := labels[l.GetName()]; ok {
			if want != l.GetValue() {
				return false
			}
			found++
		}
	}
	return found == len(labels)
}

// Get is the value of the sample of family name whose labels include labels, or -1 when there is none (no
// figure the operator exports is negative): a value to compare in an assertion.
func (m Metrics) Get(name string, labels map[string]string) float64 {
	if v, ok := m.Value(name, labels); ok {
		return v
	}
	return -1
}

// Samples are the samples of the families whose names start with prefix, one a line in the exposition format,
// sorted: what a failed assertion shows.
func (m Metrics) Samples(prefix string) string {
	var lines []string
	for name, family := range m {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, metric := range family.GetMetric() {
			var labels []string
			for _, l := range metric.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v, _ := Metrics{name: &dto.MetricFamily{Metric: []*dto.Metric{metric}}}.Value(name, nil)
			lines = append(lines, fmt.Sprintf("%s{%s} %g", name, strings.Join(labels, ","), v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// ScrapeUntil scrapes addr with token, as Prometheus does, until cond holds for a scrape, and returns it; after
// within it fails t with msg and the last scrape's samples of the families starting with prefix.
func ScrapeUntil(t testing.TB, addr, token string, within time.Duration, prefix string, cond func(Metrics) bool, msg string) Metrics {
	t.Helper()
	var last Metrics
	var lastErr error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m, err := Scrape(addr, token)
		if err != nil {
			lastErr = err
			continue
		}
		last = m
		if cond(m) {
			return m
		}
	}
	require.FailNow(t, msg, "last scrape error: %v; last %s* samples:\n%s", lastErr, prefix, last.Samples(prefix))
	return nil
}
