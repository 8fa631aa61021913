//go:build !mutation

package job_test

import (
	"context"
	"testing"

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

	m := envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_job_", func(m envtest.Metrics) bool {
		return m.Get("storageos_job_nodes", of) == 2 && m.Get("storageos_job_nodes_completed", of) == 1
	}, "one of two nodes done is exported")
	assert.Equal(t, 0.0, m.Get("storageos_job_completed", of))
	stored := &storageosv1.Job{}
	require.NoError(t, testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(j), stored))
	assert.Equal(t, float64(stored.CreationTimestamp.Unix()), m.Get("storageos_job_created_timestamp_seconds", of))

	logs.print(b, "done")
	m = envtest.ScrapeUntil(t, metricsAddr, token, timeout, "storageos_job_", func(m envtest.Metrics) bool {
		return m.Get("storageos_job_completed", of) == 1
	}, "the completed Job is exported")
	assert.Equal(t, 2.0, m.Get("storageos_job_nodes", of))
	assert.Equal(t, 2.0, m.Get("storageos_job_nodes_completed", of))
}
