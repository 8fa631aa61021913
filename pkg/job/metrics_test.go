package job_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// The job-manager's metrics endpoint, scraped as Prometheus does, follows the Job's progress.
func TestMetricsFollowTheJob(t *testing.T) {
	j := createJob(t, "metrics")
	token := testEnv.MetricsReaderToken(t, j.Namespace)
	of := map[string]string{"namespace": j.Namespace, "name": j.Name}
	ds := daemonSet(t, j)
	scheduleOn(t, ds, 2)
	a, b := startPod(t, ds, "node-a"), startPod(t, ds, "node-b")
	logs.print(a, "done")

	m := eventuallyScrape(t, token, func(m envtest.Metrics) bool {
		return value(m, "storageos_job_nodes", of) == 2 && value(m, "storageos_job_nodes_completed", of) == 1
	}, "one of two nodes done is exported")
	assert.Equal(t, 0.0, value(m, "storageos_job_completed", of))
	stored := &storageosv1.Job{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(j), stored))
	assert.Equal(t, float64(stored.CreationTimestamp.Unix()), value(m, "storageos_job_created_timestamp_seconds", of))

	logs.print(b, "done")
	m = eventuallyScrape(t, token, func(m envtest.Metrics) bool {
		return value(m, "storageos_job_completed", of) == 1
	}, "the completed Job is exported")
	assert.Equal(t, 2.0, value(m, "storageos_job_nodes", of))
	assert.Equal(t, 2.0, value(m, "storageos_job_nodes_completed", of))
}

// value is the sample's value, or -1 when there is no such sample (no figure exported here is negative).
func value(m envtest.Metrics, name string, labels map[string]string) float64 {
	if v, ok := m.Value(name, labels); ok {
		return v
	}
	return -1
}

// eventuallyScrape scrapes the job-manager until cond holds for the scrape, and returns that scrape.
func eventuallyScrape(t *testing.T, token string, cond func(envtest.Metrics) bool, msg string) envtest.Metrics {
	t.Helper()
	var last envtest.Metrics
	var lastErr error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(tick) {
		m, err := envtest.Scrape(metricsAddr, token)
		if err != nil {
			lastErr = err
			continue
		}
		last = m
		if cond(m) {
			return m
		}
	}
	require.FailNow(t, msg, "last scrape error: %v; last storageos_job_* families: %v", lastErr, jobFamilies(last))
	return nil
}

func jobFamilies(m envtest.Metrics) []string {
	var out []string
	for name, family := range m {
		if strings.HasPrefix(name, "storageos_job_") {
			out = append(out, family.String())
		}
	}
	return out
}
