package manager

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// WebhookLimits bound what one client of the webhook server can make it hold: a connection, a request's time,
// a request's body. The webhook port is reachable from every pod of the cluster, not only by the API server.
type WebhookLimits struct {
	// ReadHeaderTimeout bounds the wait for a request's headers; ReadTimeout for the whole request, body
	// included: a client that trickles its request is cut off.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	// WriteTimeout bounds the time from the end of the request's headers to the end of the response: the
	// handler's work and a slow reader of the answer.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that carries no request.
	IdleTimeout time.Duration
	// MaxRequestBytes refuses larger request bodies with 413 before they are read.
	MaxRequestBytes int64
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
}

// DefaultWebhookLimits fit admission requests. The API server waits at most 30 s for a webhook (ours 3 s), so
// a request or an answer that takes longer has no one waiting for it. The API server keeps idle connections
// for 90 s: the server keeps them longer, so that it is always the client that closes one, never the server
// just as the client reuses it. The API server refuses request bodies over 3 MiB, so no pod (and the review
// around it) needs more than 4 MiB; controller-runtime alone would read 7 MiB.
func DefaultWebhookLimits() WebhookLimits {
	return WebhookLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxRequestBytes:   4 << 20,
		MaxHeaderBytes:    64 << 10,
	}
}

// withDefaults fills the zero fields of l from DefaultWebhookLimits.
func (l WebhookLimits) withDefaults() WebhookLimits {
	d := DefaultWebhookLimits()
	for _, f := range []struct{ v, def *time.Duration }{
		{&l.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&l.ReadTimeout, &d.ReadTimeout},
		{&l.WriteTimeout, &d.WriteTimeout}, {&l.IdleTimeout, &d.IdleTimeout},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if l.MaxRequestBytes <= 0 {
		l.MaxRequestBytes = d.MaxRequestBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// minTLSVersion is the oldest TLS the servers speak. Go's servers default to 1.2 too, but a GODEBUG setting
// can lower that default; set explicitly, it cannot.
const minTLSVersion = tls.VersionTLS12

// requireTLS12 raises a TLS configuration's minimum version to TLS 1.2. It runs after every other TLS option,
// so no option can lower it.
func requireTLS12(c *tls.Config) {
	if c.MinVersion < minTLSVersion {
		c.MinVersion = minTLSVersion
	}
}

// NewWebhookServer returns a webhook server that serves as controller-runtime's does (its options, its
// certificate handling, its per-webhook metrics) with TLS 1.2 at least and limits on time and size.
//
// controller-runtime's server cannot be told either: it builds its http.Server inside Start with a header
// timeout only (no read, write timeout), reads up to 7 MiB of a body, and its mux must be an *http.ServeMux,
// so no handler can be wrapped around it. This server keeps controller-runtime's DefaultServer for what it
// does well (Register instruments every webhook with its metrics, onto a mux this server owns) and replaces
// Start and StartedChecker, which own the listener and the http.Server.
func NewWebhookServer(o webhook.Options, limits WebhookLimits) webhook.Server {
	// The defaults DefaultServer would apply on first use, applied now: Start reads them, possibly before any
	// Register.
	if o.WebhookMux == nil {
		o.WebhookMux = http.NewServeMux()
	}
	if o.Port == 0 {
		o.Port = webhook.DefaultPort
	}
	if o.CertDir == "" {
		o.CertDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	if o.CertName == "" {
		o.CertName = "tls.crt"
	}
	if o.KeyName == "" {
		o.KeyName = "tls.key"
	}
	o.TLSOpts = append(append([]func(*tls.Config){}, o.TLSOpts...), requireTLS12)
	return &webhookServer{DefaultServer: webhook.NewServer(o).(*webhook.DefaultServer), limits: limits.withDefaults()}
}

// webhookServer is DefaultServer with its own Start: see NewWebhookServer.
type webhookServer struct {
	*webhook.DefaultServer
	limits WebhookLimits

	mu      sync.Mutex
	started bool
}

var _ webhook.Server = (*webhookServer)(nil)

// Start serves the registered webhooks until ctx is done, as DefaultServer.Start does.
func (s *webhookServer) Start(ctx context.Context) error {
	o := s.Options
	log := ctrl.Log.WithName("webhook-server")
	if o.Port < 0 {
		log.Info("Webhook server is disabled")
		return nil
	}
	cfg, err := s.tlsConfig(ctx)
	if err != nil {
		return err
	}
	listener, err := tls.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), cfg)
	if err != nil {
		return err
	}
	log.Info("Serving webhook server", "host", o.Host, "port", o.Port, "minTLSVersion", tls.VersionName(cfg.MinVersion))

	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           limitBody(o.WebhookMux, s.limits.MaxRequestBytes),
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    s.limits.MaxHeaderBytes,
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		// ctx is done by now: the shutdown gets a deadline of its own. Admission requests take seconds at most;
		// the minute is controller-runtime's.
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error(err, "Shutting down the webhook server")
		}
	}()

	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}

// tlsConfig is DefaultServer's TLS configuration: HTTP/2 offered unless an option says otherwise, the options
// applied (requireTLS12 last), the certificate from the options or watched in CertDir, client certificates
// verified when ClientCAName is set.
func (s *webhookServer) tlsConfig(ctx context.Context) (*tls.Config, error) {
	o := s.Options
	cfg := &tls.Config{NextProtos: []string{"h2"}, MinVersion: minTLSVersion}
	for _, op := range o.TLSOpts {
		op(cfg)
	}
	if cfg.GetCertificate == nil {
		watcher, err := certwatcher.New(filepath.Join(o.CertDir, o.CertName), filepath.Join(o.CertDir, o.KeyName))
		if err != nil {
			return nil, err
		}
		cfg.GetCertificate = watcher.GetCertificate
		go func() {
			if err := watcher.Start(ctx); err != nil {
				ctrl.Log.WithName("webhook-server").Error(err, "Certificate watcher stopped")
			}
		}()
	}
	if o.ClientCAName != "" {
		pem, err := os.ReadFile(filepath.Join(o.CertDir, o.ClientCAName))
		if err != nil {
			return nil, fmt.Errorf("reading the client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no certificate", o.ClientCAName)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// StartedChecker is healthy once the server serves: a TLS handshake with it succeeds.
func (s *webhookServer) StartedChecker() healthz.Checker {
	return func(req *http.Request) error {
		if s.Options.Port < 0 {
			return nil
		}
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if !started {
			return errors.New("webhook server has not been started yet")
		}
		dialer := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: 10 * time.Second},
			// Only whether the server answers a handshake: its certificate is checked by the certificate
			// readiness check of the binary, which knows the name and the CA.
			Config: &tls.Config{InsecureSkipVerify: true, MinVersion: minTLSVersion}, //nolint:gosec // see above
		}
		conn, err := dialer.DialContext(req.Context(), "tcp", net.JoinHostPort(s.Options.Host, strconv.Itoa(s.Options.Port)))
		if err != nil {
			return fmt.Errorf("webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}

// limitBody refuses a request whose body is larger than limit with 413, before the webhook sees it: at once
// when its Content-Length says so (net/http holds a body to its Content-Length), and otherwise (chunked) after
// reading at most limit bytes of it. The webhook never sees an oversized body: controller-runtime would answer
// its own size error with an AdmissionReview that denies, and the webhook must never deny; an HTTP error, by
// contrast, is a failed call, which failurePolicy Ignore turns into the pod admitted unchanged.
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			// Not read: close the connection rather than drain what the client insists on sending.
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
			return
		}
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				http.Error(w, fmt.Sprintf("request body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
				return
			case err != nil:
				http.Error(w, "reading the request body failed", http.StatusBadRequest)
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}
