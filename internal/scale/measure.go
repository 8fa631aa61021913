package scale

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/storageos/cluster-operator/internal/demo"
)

// buckets are a histogram's cumulative counts by upper bound (+Inf included).
type buckets map[float64]float64

// webhookLatency reads the API server's own histogram of the time its calls to mutating webhooks take
// (apiserver_admission_webhook_admission_duration_seconds, type admit): the scheduler webhook's latency as
// the API server saw it, not as the webhook counts it. The StorageOS webhook is the only mutating one here.
func webhookLatency(ctx context.Context, d *demo.Demo) (buckets, error) {
	body, err := d.Clientset.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := buckets{}
	for _, m := range families["apiserver_admission_webhook_admission_duration_seconds"].GetMetric() {
		admit := false
		for _, l := range m.GetLabel() {
			admit = admit || (l.GetName() == "type" && l.GetValue() == "admit")
		}
		if !admit {
			continue
		}
		// The text format's buckets end with +Inf, which counts every observation.
		for _, b := range m.GetHistogram().GetBucket() {
			out[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	return out, nil
}

// quantile is the q-quantile of the observations made between two readings of a histogram, interpolated
// linearly within its bucket as Prometheus' histogram_quantile does, and how many there were.
func quantile(q float64, before, after buckets) (time.Duration, int) {
	bounds := slices.Sorted(maps.Keys(after))
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total == 0 {
		return 0, 0
	}
	rank, lower, below := q*total, 0.0, 0.0
	for _, upper := range bounds {
		count := after[upper] - before[upper]
		if count >= rank {
			if math.IsInf(upper, 1) {
				upper = lower // beyond the last bound: its value is not known, only that it is above it
			}
			inBucket := count - below
			value := upper
			if inBucket > 0 {
				value = lower + (upper-lower)*(rank-below)/inBucket
			}
			return time.Duration(value * float64(time.Second)), int(total)
		}
		lower, below = upper, count
	}
	return 0, int(total)
}

// usage is a manager process's peak memory and CPU time so far.
type usage struct {
	peakRSS int64
	cpu     time.Duration
}

// managerUsage reads every manager process's usage, by process name.
func managerUsage(d *demo.Demo) (map[string]usage, error) {
	out := map[string]usage{}
	for _, ms := range d.Managers {
		for _, m := range ms {
			rss, err := m.PeakRSS()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Name, err)
			}
			cpu, err := m.CPUTime()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Name, err)
			}
			out[m.Name] = usage{rss, cpu}
		}
	}
	return out, nil
}
