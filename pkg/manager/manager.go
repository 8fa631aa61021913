package manager

import (
	"context"
	"crypto/tls"
	"fmt"
	stdlog "log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// The metrics endpoint is protected by delegated authentication and authorization: a scraper's bearer token is
// checked with a TokenReview and its access to /metrics with a SubjectAccessReview.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// New builds a manager from the options, with /healthz and /readyz checks registered.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metrics := metricsserver.Options{
		BindAddress:   o.MetricsBindAddress,
		SecureServing: o.SecureMetrics,
		// TLS 1.2 at least, last so that no option lowers it.
		TLSOpts:  append(append([]func(*tls.Config){}, tlsOpts...), requireTLS12),
		CertDir:  o.MetricsCertDir,
		CertName: metricsCertName,
		KeyName:  metricsKeyName,
	}
	if o.SecureMetrics {
		metrics.FilterProvider = filters.WithAuthenticationAndAuthorization
		if err := checkMetricsCert(o.MetricsCertDir); err != nil {
			return nil, err
		}
	}

	var webhookServer webhook.Server
	if o.Webhook != nil {
		wo := *o.Webhook
		wo.TLSOpts = append(append([]func(*tls.Config){}, wo.TLSOpts...), tlsOpts...)
		webhookServer = NewWebhookServer(wo, o.WebhookLimits)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:           webhookServer,
		Scheme:                  NewScheme(),
		Cache:                   withoutManagedFields(o.Cache),
		Metrics:                 metrics,
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		LeaderElection:          o.LeaderElectionID != "" && o.LeaderElect,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           positive(o.LeaseDuration),
		RenewDeadline:           positive(o.RenewDeadline),
		RetryPeriod:             positive(o.RetryPeriod),
		// The binary exits as soon as the manager stops, so releasing the Lease on the way out is safe and
		// lets the next replica take over at once instead of waiting for the Lease to expire.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       positive(o.GracefulShutdownTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding readiness check: %w", err)
	}
	return mgr, nil
}

// The files of a metrics certificate directory, as a cert-manager Certificate's Secret holds them.
const (
	metricsCertName = "tls.crt"
	metricsKeyName  = "tls.key"
)

// checkMetricsCert fails when a metrics certificate directory is given without its certificate and key.
// controller-runtime would serve a self-signed certificate instead, and a scraper that verifies the certificate
// would fail with nothing in this binary's log to say why.
func checkMetricsCert(dir string) error {
	if dir == "" {
		return nil
	}
	for _, name := range []string{metricsCertName, metricsKeyName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("metrics certificate: %w", err)
		}
	}
	return nil
}

// SetupFunc registers a binary's controllers, webhooks and extra checks on its manager.
type SetupFunc func(ctx context.Context, mgr ctrl.Manager) error

// Run sets up logging, builds the manager against the kubeconfig from --kubeconfig, $KUBECONFIG or the
// in-cluster config, calls setup and runs the manager until ctx is cancelled. It returns the process exit
// code: 0 after a graceful shutdown, 1 on any error.
func Run(ctx context.Context, o Options, setup SetupFunc) int {
	logger := zap.New(zap.UseFlagOptions(&o.Zap))
	ctrl.SetLogger(logger)
	// client-go logs through klog; send it to the same logger so every line has the same format.
	klog.SetLogger(logger)
	// Libraries that log through the standard library (net/http's server reports TLS handshake errors there)
	// would otherwise write plain lines between the JSON ones.
	stdlog.SetFlags(0)
	stdlog.SetOutput(stdlogWriter{log: logger.WithName("stdlib")})
	log := ctrl.Log.WithName(o.Name)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "Unable to load a kubeconfig")
		return 1
	}
	cfg.UserAgent = "storageos-" + o.Name
	if err := waitForAPIServer(ctx, cfg, apiServerWait, log); err != nil {
		log.Error(err, "The API server did not answer", "waited", apiServerWait)
		return 1
	}
	mgr, err := New(cfg, o)
	if err != nil {
		log.Error(err, "Unable to set up the manager")
		return 1
	}
	if setup != nil {
		if err := setup(ctx, mgr); err != nil {
			log.Error(err, "Unable to set up the controllers")
			return 1
		}
	}

	log.Info("Starting manager", "leaderElection", o.LeaderElectionID != "" && o.LeaderElect,
		"leaderElectionID", o.LeaderElectionID)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped with an error")
		return 1
	}
	log.Info("Manager stopped")
	return 0
}

// stdlogWriter turns standard library log lines into structured log entries.
type stdlogWriter struct{ log logr.Logger }

func (w stdlogWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// positive returns a pointer to d, or nil for controller-runtime's default when d is not set.
func positive(d time.Duration) *time.Duration {
	if d <= 0 {
		return nil
	}
	return &d
}

// withoutManagedFields strips managed fields from everything a binary caches, unless it trims its cache itself:
// they are often the larger part of an object, and nothing reads them from the cache (server-side apply reads
// them, when it must, from the API server). At thousands of nodes and pods this is most of a cache's memory.
func withoutManagedFields(o cache.Options) cache.Options {
	if o.DefaultTransform == nil {
		o.DefaultTransform = cache.TransformStripManagedFields()
	}
	return o
}
