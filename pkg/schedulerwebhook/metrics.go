package schedulerwebhook

import (
	"crypto/x509"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opmetrics "github.com/storageos/cluster-operator/pkg/metrics"
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

// certificateExpiryDesc is per replica: each serves the certificate it last loaded, so a replica that missed a
// renewal shows as the one about to expire.
var certificateExpiryDesc = prometheus.NewDesc("storageos_scheduler_webhook_certificate_expiry_timestamp_seconds",
	"When the serving certificate this replica serves now expires (its NotAfter), in Unix seconds.", nil, nil)

// registerCertificateExpiry exports the expiry of the certificate served returns. A process has one webhook
// server, so a later registration (a test's next replica) replaces the earlier.
func registerCertificateExpiry(served func() *x509.Certificate) error {
	return opmetrics.Register(expiryCollector{served: served})
}

// expiryCollector exports the NotAfter of the certificate served at scrape time, so a renewal shows at once
// and a certificate never replaced shows its real expiry; nothing before the first certificate is served.
type expiryCollector struct {
	served func() *x509.Certificate
}

func (e expiryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certificateExpiryDesc
}

func (e expiryCollector) Collect(ch chan<- prometheus.Metric) {
	if cert := e.served(); cert != nil {
		ch <- prometheus.MustNewConstMetric(certificateExpiryDesc, prometheus.GaugeValue, opmetrics.Timestamp(cert.NotAfter))
	}
}
