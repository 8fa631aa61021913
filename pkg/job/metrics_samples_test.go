package job

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/manager"
)

// A Job's status in, its samples out, without an API server.
func TestJobSamples(t *testing.T) {
	created := metav1.NewTime(time.Unix(1767225600, 0))
	const help = `
# HELP storageos_job_completed 1 once the Job completed on every node it runs on, 0 before.
# TYPE storageos_job_completed gauge
# HELP storageos_job_created_timestamp_seconds When the Job was created, in Unix seconds.
# TYPE storageos_job_created_timestamp_seconds gauge
# HELP storageos_job_nodes Nodes the Job runs on (status.nodesTotal).
# TYPE storageos_job_nodes gauge
# HELP storageos_job_nodes_completed Nodes whose Job pod printed the completion word (status.nodesCompleted).
# TYPE storageos_job_nodes_completed gauge
`
	for _, tc := range []struct {
		name   string
		status storageosv1.JobStatus
		want   string
	}{
		{"new, no status yet", storageosv1.JobStatus{}, `
storageos_job_completed{name="cleanup",namespace="ns"} 0
storageos_job_created_timestamp_seconds{name="cleanup",namespace="ns"} 1.7672256e+09
storageos_job_nodes{name="cleanup",namespace="ns"} 0
storageos_job_nodes_completed{name="cleanup",namespace="ns"} 0
`},
		{"two of three nodes done", storageosv1.JobStatus{NodesTotal: 3, NodesCompleted: 2}, `
storageos_job_completed{name="cleanup",namespace="ns"} 0
storageos_job_created_timestamp_seconds{name="cleanup",namespace="ns"} 1.7672256e+09
storageos_job_nodes{name="cleanup",namespace="ns"} 3
storageos_job_nodes_completed{name="cleanup",namespace="ns"} 2
`},
		{"completed", storageosv1.JobStatus{NodesTotal: 3, NodesCompleted: 3, Completed: true}, `
storageos_job_completed{name="cleanup",namespace="ns"} 1
storageos_job_created_timestamp_seconds{name="cleanup",namespace="ns"} 1.7672256e+09
storageos_job_nodes{name="cleanup",namespace="ns"} 3
storageos_job_nodes_completed{name="cleanup",namespace="ns"} 3
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cleanup", CreationTimestamp: created},
				Status: tc.status}
			reader := fake.NewClientBuilder().WithScheme(manager.NewScheme()).WithObjects(j).Build()
			require.NoError(t, testutil.CollectAndCompare(newJobCollector(reader, nil), strings.NewReader(help+tc.want)))
		})
	}
}
