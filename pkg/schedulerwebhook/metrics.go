package schedulerwebhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Outcomes of an admission.
const (
	outcomeMutated = "mutated"
	outcomeSkipped = "skipped"
	outcomeError   = "error"
)

var (
	admissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "storageos_scheduler_webhook_admissions_total",
		Help: "Pod admissions by outcome: mutated (sent to the StorageOS scheduler), skipped, error (admitted unchanged).",
	}, []string{"outcome"})
	latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "storageos_scheduler_webhook_admission_duration_seconds",
		Help:    "Time to decide a pod admission.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1},
	})
)

func init() {
	metrics.Registry.MustRegister(admissions, latency)
}
