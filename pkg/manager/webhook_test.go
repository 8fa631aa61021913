package manager

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// freePort is a loopback port nothing listens on, for servers that take a port rather than a listener.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// servingCertDir writes a self-signed tls.crt and tls.key for 127.0.0.1 into a temporary directory.
func servingCertDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	crt, key, err := cert.GenerateSelfSignedCertKey("localhost", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600))
	return dir
}

// waitForTLS waits until addr completes a TLS 1.2 handshake.
func waitForTLS(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // a test's self-signed server
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	}, 10*time.Second, 20*time.Millisecond, "%s serves TLS", addr)
}

// handshake connects to addr speaking only TLS versions min to max.
func handshake(addr string, minVersion, maxVersion uint16) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true, MinVersion: minVersion, MaxVersion: maxVersion}) //nolint:gosec // a test's self-signed server
	if err != nil {
		return err
	}
	return conn.Close()
}

// startWebhookServer starts NewWebhookServer on a loopback port with a handler at /hook that reads the whole
// body and counts the requests it completes. opts are TLS options given as a binary would.
func startWebhookServer(t *testing.T, limits WebhookLimits, opts ...func(*tls.Config)) (addr string, served *atomic.Int32, srv webhook.Server) {
	t.Helper()
	port := freePort(t)
	srv = NewWebhookServer(webhook.Options{Host: "127.0.0.1", Port: port, CertDir: servingCertDir(t), TLSOpts: opts}, limits)
	served = &atomic.Int32{}
	srv.Register("/hook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		served.Add(1)
		_, _ = fmt.Fprintf(w, "read %d bytes", len(body))
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done, "the server stops cleanly")
	})
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitForTLS(t, addr)
	return addr, served, srv
}

func insecureClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // a test's self-signed server
	}}
}

// The webhook server speaks TLS 1.2 and 1.3 only, even when a TLS option of the binary asks for less.
func TestWebhookServerRefusesOldTLS(t *testing.T) {
	lower := func(c *tls.Config) { c.MinVersion = tls.VersionTLS10 }
	addr, _, srv := startWebhookServer(t, WebhookLimits{}, lower)

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		assert.Error(t, handshake(addr, v, v), "a %s handshake fails", tls.VersionName(v))
	}
	require.NoError(t, handshake(addr, tls.VersionTLS12, tls.VersionTLS12))
	require.NoError(t, handshake(addr, tls.VersionTLS13, tls.VersionTLS13))

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "/readyz", http.NoBody)
	require.NoError(t, err)
	assert.NoError(t, srv.StartedChecker()(req), "the readiness check handshakes with TLS 1.2 or later")
}

// Bodies over the limit are refused with 413 before the webhook reads them, whether the client announces the
// size or streams the body chunked; bodies within it reach the webhook whole.
func TestWebhookServerRefusesOversizedBodies(t *testing.T) {
	const limit = 1 << 10
	addr, served, _ := startWebhookServer(t, WebhookLimits{MaxRequestBytes: limit})
	url := "https://" + addr + "/hook"
	client := insecureClient()
	post := func(body io.Reader, contentLength int64) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, body)
		require.NoError(t, err)
		req.ContentLength = contentLength // -1: chunked
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(out)
	}

	status, body := post(strings.NewReader(strings.Repeat("a", limit)), limit)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "read 1024 bytes", body)
	status, body = post(strings.NewReader(strings.Repeat("a", limit)), -1)
	assert.Equal(t, http.StatusOK, status, "a chunked body within the limit")
	assert.Equal(t, "read 1024 bytes", body)

	status, _ = post(strings.NewReader(strings.Repeat("a", 10*limit)), 10*limit)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "announced by Content-Length")
	status, _ = post(strings.NewReader(strings.Repeat("a", 10*limit)), -1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "streamed chunked")
	assert.Equal(t, int32(2), served.Load(), "the webhook saw the two bodies within the limit only")
}

// The default limit lets through an admission review of the largest pod the API server accepts.
func TestDefaultWebhookLimits(t *testing.T) {
	l := WebhookLimits{}.withDefaults()
	assert.Equal(t, DefaultWebhookLimits(), l)
	assert.Greater(t, l.MaxRequestBytes, int64(3<<20), "the API server accepts bodies up to 3 MiB")
	assert.Less(t, l.MaxRequestBytes, int64(7<<20), "tighter than controller-runtime's own 7 MiB")
	assert.Greater(t, l.IdleTimeout, 90*time.Second, "longer than the API server keeps an idle connection")
	assert.Positive(t, l.ReadTimeout)
	assert.Positive(t, l.WriteTimeout)
	assert.Equal(t, time.Second, WebhookLimits{ReadTimeout: time.Second}.withDefaults().ReadTimeout, "a set field is kept")
}

// A client that sends its request slowly is cut off at ReadTimeout instead of holding the connection.
func TestWebhookServerCutsOffSlowClients(t *testing.T) {
	const readTimeout = 500 * time.Millisecond
	addr, served, _ := startWebhookServer(t, WebhookLimits{ReadTimeout: readTimeout, ReadHeaderTimeout: readTimeout})

	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // a test's self-signed server
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	start := time.Now()
	// Headers announcing 100 bytes, then 10 of them, then nothing.
	_, err = io.WriteString(conn, "POST /hook HTTP/1.1\r\nHost: webhook\r\nContent-Length: 100\r\n\r\n0123456789")
	require.NoError(t, err)

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		// The handler's read failed at the deadline; whatever it answered, the connection must end there.
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		_, err = conn.Read(make([]byte, 1))
	}
	var netErr net.Error
	require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the server, not the test's deadline, ended the connection: %v", err)
	elapsed := time.Since(start)
	assert.Less(t, elapsed, 5*time.Second, "cut off near ReadTimeout, not left hanging")
	assert.GreaterOrEqual(t, elapsed, readTimeout/2)
	assert.Zero(t, served.Load(), "the trickled request never completed")
}

// The metrics server, too, speaks TLS 1.2 and 1.3 only.
func TestMetricsServerRefusesOldTLS(t *testing.T) {
	addr := startMetrics(t, NewOptions("test", ""))
	assert.Error(t, handshake(addr, tls.VersionTLS11, tls.VersionTLS11), "a TLS 1.1 handshake fails")
	assert.NoError(t, handshake(addr, tls.VersionTLS12, tls.VersionTLS12))
}
