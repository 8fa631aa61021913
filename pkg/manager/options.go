// Package manager is the one controller-runtime manager setup shared by the four binaries and by tests:
// flags, logging, metrics, health probes, leader election and graceful shutdown.
package manager

import (
	"flag"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Options configures a manager. Binaries bind it to their flags; tests fill it in directly.
type Options struct {
	// Name identifies the binary, e.g. "cluster-manager". It names the logger.
	Name string

	// LeaderElectionID is the Lease a leader-elected binary takes. Empty means the binary never runs
	// leader election (the webhook: every replica serves), and the --leader-elect flags are not offered.
	LeaderElectionID string

	// LeaderElect turns leader election on, so that only one replica of a controller acts at a time.
	LeaderElect bool
	// LeaderElectionNamespace is where the Lease lives; in a pod it defaults to the pod's namespace.
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election as in kube-controller-manager: a
	// leader that cannot renew within RenewDeadline stops, and a candidate retries every RetryPeriod.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// MetricsBindAddress is where metrics are served; "0" disables them.
	MetricsBindAddress string
	// SecureMetrics serves metrics over HTTPS behind Kubernetes authentication and authorization.
	SecureMetrics bool
	// MetricsCertDir holds tls.crt and tls.key for the metrics server, reloaded when they change; empty means a
	// self-signed certificate, which no scraper can verify.
	MetricsCertDir string
	// EnableHTTP2 allows HTTP/2 on the metrics server. It is off by default: HTTP/2 rapid-reset and stream
	// cancellation attacks (CVE-2023-44487, CVE-2023-39325) are cheaper than the benefit for a metrics endpoint.
	EnableHTTP2 bool

	// HealthProbeBindAddress is where /healthz and /readyz are served; "0" disables them.
	HealthProbeBindAddress string

	// GracefulShutdownTimeout bounds how long running work may take to stop after SIGTERM.
	GracefulShutdownTimeout time.Duration

	// Cache limits what the manager caches; binaries set it from their controllers' needs, not from flags.
	Cache cache.Options

	// Webhook configures the webhook server of binaries that serve admission webhooks; nil for the others.
	Webhook *webhook.Options
	// WebhookLimits bound the webhook server's timeouts and request sizes; zero fields take
	// DefaultWebhookLimits'.
	WebhookLimits WebhookLimits

	// Zap configures logging: JSON by default, --zap-devel for human-readable output.
	Zap zap.Options
}

// NewOptions returns the defaults for a binary. leaderElectionID is empty for binaries that never elect a leader.
func NewOptions(name, leaderElectionID string) Options {
	return Options{
		Name:                    name,
		LeaderElectionID:        leaderElectionID,
		MetricsBindAddress:      ":8443",
		SecureMetrics:           true,
		HealthProbeBindAddress:  ":8081",
		LeaseDuration:           15 * time.Second,
		RenewDeadline:           10 * time.Second,
		RetryPeriod:             2 * time.Second,
		GracefulShutdownTimeout: 30 * time.Second,
		Zap:                     zap.Options{Development: false},
	}
}

// BindFlags registers the options on a flag set with the flag names Kubebuilder projects use.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsBindAddress, "metrics-bind-address", o.MetricsBindAddress,
		"The address the metrics endpoint binds to. Use :8080 for HTTP or 0 to disable the metrics service.")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", o.SecureMetrics,
		"Serve metrics over HTTPS behind Kubernetes authentication and authorization.")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-path", o.MetricsCertDir,
		"Directory holding tls.crt and tls.key for the metrics server, reloaded when they change; a self-signed certificate is used when empty.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2, "Allow HTTP/2 on the metrics server.")
	fs.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", o.HealthProbeBindAddress,
		"The address the /healthz and /readyz endpoints bind to.")
	fs.DurationVar(&o.GracefulShutdownTimeout, "graceful-shutdown-timeout", o.GracefulShutdownTimeout,
		"How long running work may take to stop after SIGTERM.")
	if o.LeaderElectionID != "" {
		fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect,
			"Elect a leader through a Lease, so that only one replica acts at a time.")
		fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", o.LeaderElectionNamespace,
			"Namespace of the leader election Lease; defaults to the pod's namespace when running in a cluster.")
		fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", o.LeaseDuration,
			"How long a non-leader waits after the last renewal before taking the Lease.")
		fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", o.RenewDeadline,
			"How long the leader retries renewing the Lease before it stops leading (and exits).")
		fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", o.RetryPeriod,
			"How often a candidate tries to take the Lease and the leader renews it.")
	}
	if o.Webhook != nil {
		fs.IntVar(&o.Webhook.Port, "webhook-port", o.Webhook.Port, "The port the admission webhook serves HTTPS on.")
		fs.StringVar(&o.Webhook.CertDir, "webhook-cert-dir", o.Webhook.CertDir,
			"Directory holding the webhook's tls.crt and tls.key; they are reloaded when they change.")
	}
	o.Zap.BindFlags(fs)
}
