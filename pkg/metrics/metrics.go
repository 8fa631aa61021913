// Package metrics exports the state of the operator's own objects (clusters, upgrades, Jobs) as Prometheus
// metrics, in each binary's existing metrics endpoint. The figures are read from the manager's cache when
// Prometheus scrapes, never kept in memory between scrapes: a restarted or newly elected binary exports the same
// figures as the one before it, and no reconcile does any work for them.
package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// objectLabels label every metric of an object: the object's namespace and name.
var objectLabels = []string{"namespace", "name"}

// NewDesc describes a metric of an object: its labels are the object's namespace and name, then extra.
func NewDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string{}, objectLabels...), extra...), nil)
}

// Emitter writes the samples of one object.
type Emitter struct {
	ch     chan<- prometheus.Metric
	labels []string
}

// Gauge emits desc's sample for the object, with the extra label values after namespace and name.
func (e Emitter) Gauge(desc *prometheus.Desc, value float64, extra ...string) {
	e.ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, append(append([]string{}, e.labels...), extra...)...)
}

// StateSet emits one sample per state, 1 for current and 0 for the others, as kube-state-metrics does for a
// pod's phase: an alert then reads `== 1` without knowing every state, and a state left shows as 0 at once.
func (e Emitter) StateSet(desc *prometheus.Desc, current string, states []string, extra ...string) {
	for _, s := range states {
		e.Gauge(desc, Bool(s == current), append(append([]string{}, extra...), s)...)
	}
}

// Bool is 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Timestamp is t in Unix seconds, the unit Prometheus compares with time().
func Timestamp(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}

// listTimeout bounds the cache read of one scrape; a cache read does not touch the API server, so only a cache
// that has not synced yet can make it wait.
const listTimeout = 10 * time.Second

// ObjectCollector is a Prometheus collector of the objects of one kind, listed from a cache at scrape time.
type ObjectCollector struct {
	reader  client.Reader
	elected <-chan struct{}
	descs   []*prometheus.Desc
	newList func() client.ObjectList
	emit    func(client.Object, Emitter)
}

// NewObjectCollector collects the objects newList lists from reader (the manager's cache) with emit, which may
// use only descs. elected is closed once this replica leads: only the leader exports, so that two replicas never
// export the same object twice; nil exports always (a binary without leader election).
func NewObjectCollector(reader client.Reader, elected <-chan struct{}, newList func() client.ObjectList,
	descs []*prometheus.Desc, emit func(client.Object, Emitter)) *ObjectCollector {
	return &ObjectCollector{reader: reader, elected: elected, descs: descs, newList: newList, emit: emit}
}

// Describe sends the descriptions of every metric the collector exports.
func (c *ObjectCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect lists the objects and sends their samples; a failed list exports nothing (the scrape still succeeds
// with the other metrics, and an absent series is what alerts on staleness see).
func (c *ObjectCollector) Collect(ch chan<- prometheus.Metric) {
	if c.elected != nil {
		select {
		case <-c.elected:
		default:
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	list := c.newList()
	if err := c.reader.List(ctx, list); err != nil {
		ctrl.Log.WithName("metrics").Error(err, "listing objects for a scrape")
		return
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		ctrl.Log.WithName("metrics").Error(err, "reading a list for a scrape")
		return
	}
	for _, item := range items {
		if o, ok := item.(client.Object); ok {
			c.emit(o, Emitter{ch: ch, labels: []string{o.GetNamespace(), o.GetName()}})
		}
	}
}

// Register adds c to the registry every binary's metrics endpoint serves. A collector of the same metrics
// registered before (by an earlier manager in the same test process) is replaced, so the endpoint always reads
// the newest manager's cache.
func Register(c prometheus.Collector) error {
	err := crmetrics.Registry.Register(c)
	if already := (prometheus.AlreadyRegisteredError{}); errors.As(err, &already) {
		crmetrics.Registry.Unregister(already.ExistingCollector)
		return crmetrics.Registry.Register(c)
	}
	return err
}
