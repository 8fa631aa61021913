//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
)

// prometheusBin is the Prometheus the e2e runs beside the operator; make e2e passes bin/prometheus-<version>.
func prometheusBin() (string, error) {
	bin := os.Getenv("PROMETHEUS")
	if bin == "" {
		return "", errors.New("PROMETHEUS is not set: run make e2e, or make prometheus and set PROMETHEUS to the binary it builds")
	}
	return bin, nil
}

// The demo's Prometheus scrapes every process of the four binaries with its ServiceAccount token, and finds the
// operator's objects as the steps before left them (the Job's and the upgrade's steps check theirs before
// deleting them), the leaders, and no alert firing.
func testMetricsInPrometheus(t *testing.T) {
	p := env.Prometheus
	targets := 0
	for _, b := range demo.Binaries {
		targets += len(env.Managers[b])
	}
	checks := []struct {
		query string
		want  float64
	}{
		{`count(up == 1)`, float64(targets)},
		{fmt.Sprintf(`storageos_cluster_status_phase{namespace=%q,name=%q,phase="Running"}`, demo.SampleNamespace, demo.SampleCluster), 1},
		{`storageos_cluster_nodes_ready`, 3},
		{`storageos_cluster_nodes_desired`, 3},
		{`storageos_cluster_storageos_nodes{health="online"}`, 3},
		{`count(storageos_cluster_node_healthy{component="node"} == 1)`, 3},
		{`storageos_cluster_status_condition{condition="APIReady",status="True"}`, 1},
		// Some pods were sent to the StorageOS scheduler (how many depends on the steps before).
		{`clamp_max(sum(storageos_scheduler_webhook_admissions_total{outcome="mutated"}), 1)`, 1},
		{`count(storageos_scheduler_webhook_certificate_expiry_timestamp_seconds > time())`, float64(len(env.Managers["scheduler-webhook"]))},
		// One leader per Lease, the standbys at 0.
		{`count(sum by (name) (leader_election_master_status) == 1)`, 3},
	}
	for _, c := range checks {
		eventuallyQuery(t, c.query, c.want)
	}
	alerts, err := p.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if a.State == "firing" {
			t.Errorf("alert %s firing on a healthy cluster: %v", a.Labels["alertname"], a.Labels)
		}
	}
}

// eventuallyQuery waits until query returns one series of value want.
func eventuallyQuery(t *testing.T, query string, want float64) {
	t.Helper()
	eventually(t, timeout, query, func(ctx context.Context) error {
		samples, err := env.Prometheus.Query(ctx, query)
		if err != nil {
			return err
		}
		if len(samples) != 1 {
			return fmt.Errorf("%d series: %+v", len(samples), samples)
		}
		if got := samples[0].Value; got != want {
			return fmt.Errorf("%v, want %v", got, want)
		}
		return nil
	})
}

// alertState is the state Prometheus holds the alert called name in: "pending", "firing", or "" when it holds
// none.
func alertState(ctx context.Context, name string) (string, error) {
	alerts, err := env.Prometheus.Alerts(ctx)
	if err != nil {
		return "", err
	}
	for _, a := range alerts {
		if a.Labels["alertname"] == name {
			return a.State, nil
		}
	}
	return "", nil
}

// eventuallyAlert waits until the alert called name is in state want ("" for resolved), and says how long it
// took.
func eventuallyAlert(t *testing.T, name, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventuallyEvery(t, within, time.Second, fmt.Sprintf("alert %s %q", name, want), func(ctx context.Context) error {
		got, err := alertState(ctx, name)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("alert %s is %q", name, got)
		}
		return nil
	})
	return time.Since(start)
}
