package job

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/metrics"
)

// The metrics of every Job, read from its status when Prometheus scrapes, as `kubectl get jobs.storageos.com`
// shows it.
var (
	jobNodesDesc = metrics.NewDesc("storageos_job_nodes",
		"Nodes the Job runs on (status.nodesTotal).")
	jobNodesCompletedDesc = metrics.NewDesc("storageos_job_nodes_completed",
		"Nodes whose Job pod printed the completion word (status.nodesCompleted).")
	jobCompletedDesc = metrics.NewDesc("storageos_job_completed",
		"1 once the Job completed on every node it runs on, 0 before.")
	// With the creation time an alert tells a Job that is stuck from one that has only just started:
	// time() - created > 3600 and completed == 0.
	jobCreatedDesc = metrics.NewDesc("storageos_job_created_timestamp_seconds",
		"When the Job was created, in Unix seconds.")
)

// registerMetrics exports the Jobs in mgr's cache, while this replica leads.
func registerMetrics(mgr ctrl.Manager) error {
	return metrics.Register(newJobCollector(mgr.GetCache(), mgr.Elected()))
}

// newJobCollector collects the Jobs reader lists; elected as metrics.NewObjectCollector takes it.
func newJobCollector(reader client.Reader, elected <-chan struct{}) *metrics.ObjectCollector {
	return metrics.NewObjectCollector(reader, elected,
		func() client.ObjectList { return &storageosv1.JobList{} },
		[]*prometheus.Desc{jobNodesDesc, jobNodesCompletedDesc, jobCompletedDesc, jobCreatedDesc},
		emitJob)
}

// emitJob writes the samples of one Job.
func emitJob(o client.Object, e metrics.Emitter) {
	j, ok := o.(*storageosv1.Job)
	if !ok {
		return
	}
	e.Gauge(jobNodesDesc, float64(j.Status.NodesTotal))
	e.Gauge(jobNodesCompletedDesc, float64(j.Status.NodesCompleted))
	e.Gauge(jobCompletedDesc, metrics.Bool(j.Status.Completed))
	e.Gauge(jobCreatedDesc, metrics.Timestamp(j.CreationTimestamp.Time))
}
