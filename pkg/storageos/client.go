package storageos

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
)

// DefaultTimeout bounds every request: a reconcile must never hang on an unreachable StorageOS API.
const DefaultTimeout = 10 * time.Second

// API is what the operator's controllers need from StorageOS. Client implements it; tests may substitute it.
type API interface {
	GetCluster(ctx context.Context) (*Cluster, error)
	UpdateCluster(ctx context.Context, cluster Cluster) (*Cluster, error)
	ListNodes(ctx context.Context) ([]Node, error)
	UpdateNodeLabels(ctx context.Context, node Node, labels map[string]string) (*Node, error)
	EnableMaintenance(ctx context.Context) error
	DisableMaintenance(ctx context.Context) error
}

// ErrUnauthorized means StorageOS rejected the credentials at login.
var ErrUnauthorized = errors.New("storageos API rejected the credentials")

// ErrConflict means a PUT carried a version that is no longer current: read again and retry.
var ErrConflict = errors.New("storageos API object changed since it was read")

// ErrNotFound means the object named in the path does not exist, e.g. a node that left the cluster after it
// was listed.
var ErrNotFound = errors.New("storageos API object not found")

// ErrRedirected means the API answered with a redirect, which the client never follows: following one would
// send the credentials, or the session token, to wherever the answer points. The StorageOS API does not
// redirect, so one means a misconfigured endpoint or something else answering in its place.
var ErrRedirected = errors.New("storageos API redirected the request (not followed)")

// UnavailableError means the API could not be reached or answered with a server error.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("storageos API unavailable (%s): %v", e.Op, e.Err)
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means the API is unreachable, timing out or failing.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// Client is a StorageOS API client. It logs in lazily, keeps the session token and logs in again once when a
// request is refused with 401 because the token expired. It is safe for concurrent use.
//
// Its errors end up in status conditions and events that anyone who can read the StorageOSCluster sees, so they
// never carry the credentials or the session token, nor more of an answer's body than a short reason.
type Client struct {
	endpoint string
	creds    Credentials
	timeout  time.Duration
	roots    *x509.CertPool
	http     *http.Client

	mu    sync.Mutex
	token string
}

var _ API = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithTimeout sets the timeout of each request.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithRootCAs verifies an https endpoint's certificate against roots instead of the system's.
func WithRootCAs(roots *x509.CertPool) Option {
	return func(c *Client) { c.roots = roots }
}

// New returns a client for the API at endpoint, e.g. "http://storageos.storageos.svc:5705".
func New(endpoint string, creds Credentials, opts ...Option) *Client {
	c := &Client{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		creds:    creds,
		timeout:  DefaultTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
	// Callers make a few requests at once (the node label sync updates 8 nodes at a time): their connections
	// are kept for the next ones rather than closed and set up again, TLS handshake and all.
	transport.MaxIdleConnsPerHost = 16
	c.http = &http.Client{
		Transport: transport,
		Timeout:   c.timeout,
		// Never follow a redirect: Go's client re-sends a login's body (the password) on a 307 or 308, to any
		// host. The 3xx answer itself comes back and do and login turn it into ErrRedirected.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// Login starts a session; the other calls log in on their own when needed.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.login(ctx)
	return err
}

func (c *Client) login(ctx context.Context) (string, error) {
	token, err := c.loginOnce(ctx)
	return token, c.redact(err, token)
}

func (c *Client) loginOnce(ctx context.Context) (string, error) {
	body, err := json.Marshal(loginRequest{Username: c.creds.Username, Password: c.creds.Password})
	if err != nil {
		return "", err
	}
	resp, err := c.send(ctx, http.MethodPost, "/v2/auth/login", "", body)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", ErrUnauthorized
	case resp.StatusCode != http.StatusOK:
		return "", c.statusError("login", resp, "")
	}
	// StorageOS returns the session token in the Authorization header; the body's session.token is the same.
	token := strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		var lr loginResponse
		if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
			// Not the decoder's message: it may quote the body, which carries the token.
			return "", errors.New("decoding login response: not the expected JSON")
		}
		token = lr.Session.Token
	}
	if token == "" {
		return "", errors.New("storageos API login returned no session token")
	}
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
	return token, nil
}

// GetCluster reads the cluster-wide configuration.
func (c *Client) GetCluster(ctx context.Context) (*Cluster, error) {
	out := &Cluster{}
	if err := c.do(ctx, http.MethodGet, "/v2/cluster", nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateCluster writes the cluster-wide configuration; cluster.Version must be the version last read.
func (c *Client) UpdateCluster(ctx context.Context, cluster Cluster) (*Cluster, error) {
	out := &Cluster{}
	if err := c.do(ctx, http.MethodPut, "/v2/cluster", cluster, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListNodes lists the StorageOS nodes with their health.
func (c *Client) ListNodes(ctx context.Context) ([]Node, error) {
	var out []Node
	if err := c.do(ctx, http.MethodGet, "/v2/nodes", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// updateNodeRequest is the body of PUT /v2/nodes/{id}. Labels has no omitempty: the PUT replaces the labels,
// and an empty map must say "no labels" rather than leave the field out.
type updateNodeRequest struct {
	Labels  map[string]string `json:"labels"`
	Version string            `json:"version"`
}

// UpdateNodeLabels replaces a node's labels. node is the node as last read: its ID names it and its Version
// guards the write, so a change made since then (by StorageOS itself or a user of its CLI) fails with
// ErrConflict instead of being overwritten: list the nodes again and retry. It returns the node as written.
func (c *Client) UpdateNodeLabels(ctx context.Context, node Node, labels map[string]string) (*Node, error) {
	if labels == nil {
		labels = map[string]string{}
	}
	out := &Node{}
	path := "/v2/nodes/" + url.PathEscape(node.ID)
	if err := c.do(ctx, http.MethodPut, path, updateNodeRequest{Labels: labels, Version: node.Version}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// EnableMaintenance puts the cluster in maintenance mode, as before an offline upgrade.
func (c *Client) EnableMaintenance(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/cluster/maintenance", nil, nil)
}

// DisableMaintenance takes the cluster out of maintenance mode.
func (c *Client) DisableMaintenance(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/v1/cluster/maintenance", nil, nil)
}

// do sends an authenticated request, logging in first when there is no session and once more when the session
// has expired, and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	token, err := c.doOnce(ctx, method, path, in, out)
	return c.redact(err, token)
}

// doOnce is do; it also returns the session token it used last, which its errors must not carry.
func (c *Client) doOnce(ctx context.Context, method, path string, in, out any) (token string, err error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return "", err
		}
	}
	c.mu.Lock()
	token = c.token
	c.mu.Unlock()

	op := method + " " + path
	for attempt := 0; ; attempt++ {
		if token == "" {
			if token, err = c.login(ctx); err != nil {
				return "", err
			}
		}
		resp, err := c.send(ctx, method, path, token, body)
		if err != nil {
			return token, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			drain(resp)
			token = ""
			continue
		}
		defer drain(resp) //nolint:gocritic // deferInLoop: every path from here returns, so it runs once
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return token, ErrUnauthorized
		// The StorageOS v2 API's OpenAPI description answers a stale version with 412 Precondition Failed;
		// 409 Conflict (which the simulator answers) means the same here.
		case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusPreconditionFailed:
			return token, ErrConflict
		case resp.StatusCode == http.StatusNotFound:
			return token, fmt.Errorf("%w: %w", ErrNotFound, c.statusError(op, resp, token))
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			return token, c.statusError(op, resp, token)
		}
		if out == nil {
			return token, nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return token, fmt.Errorf("decoding %s: %w", op, err)
		}
		return token, nil
	}
}

func (c *Client) send(ctx context.Context, method, path, token string, body []byte) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &UnavailableError{Op: method + " " + path, Err: err}
	}
	return resp, nil
}

// maxReason bounds the part of an error answer an error repeats, in runes: enough for a StorageOS error
// message, too little for a body's worth of anything.
const maxReason = 100

// maxErrorBody is how much of an error answer is read to find its reason: as much as drain would read anyway
// to reuse the connection. A JSON body cut there has no reason.
const maxErrorBody = 64 << 10

// statusError describes an unexpected answer by its status code and a short reason (see reason); a redirect is
// ErrRedirected and server errors count as the API being unavailable. token is the session the request used.
func (c *Client) statusError(op string, resp *http.Response, token string) error {
	var err error
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		err = fmt.Errorf("%s: HTTP %d: %w", op, resp.StatusCode, ErrRedirected)
		if host := redirectHost(resp); host != "" {
			err = fmt.Errorf("%w, to %s", err, host)
		}
		return err
	}
	msg := fmt.Sprintf("%s: HTTP %d", op, resp.StatusCode)
	if reason := c.reason(resp, token); reason != "" {
		msg += ": " + reason
	}
	err = errors.New(msg)
	if resp.StatusCode >= 500 {
		return &UnavailableError{Op: op, Err: err}
	}
	return err
}

// redirectHost is the host a redirect points to, for the error to name: not the whole Location, whose path or
// query may carry anything.
func redirectHost(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return ""
	}
	return truncate(sanitize(loc.Host), maxReason)
}

// reason summarises an error answer: the "error" (StorageOS's) or "message" member of a JSON body, or the first
// line of a text/plain one, cleaned of what is not printable, with the credentials and token replaced, and cut
// to maxReason runes. Anything else (HTML from a proxy, a binary blob) gives no reason. The answer's body is
// never copied as it is: it lands in conditions, events and logs.
func (c *Client) reason(resp *http.Response, token string) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var text string
	var fields struct {
		Error   any `json:"error"`
		Message any `json:"message"`
	}
	mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	switch strings.TrimSpace(strings.ToLower(mediaType)) {
	case "application/json", "application/problem+json":
		if json.Unmarshal(body, &fields) != nil {
			return ""
		}
		if s, ok := fields.Error.(string); ok && strings.TrimSpace(s) != "" {
			text = s
		} else if s, ok := fields.Message.(string); ok {
			text = s
		}
	case "text/plain":
		text, _, _ = strings.Cut(string(body), "\n")
	default:
		return ""
	}
	// Printable first, so a secret split by control characters is whole again before it is looked for; cut
	// last, so a secret is never cut into a prefix that escapes the replacement.
	return truncate(strings.Join(strings.Fields(c.replaceSecrets(sanitize(text), token, true)), " "), maxReason)
}

// sanitize keeps the printable runes of s and turns whitespace into spaces.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsPrint(r):
			return r
		}
		return -1
	}, strings.ToValidUTF8(s, ""))
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	runes := []rune(s)
	if len(runes) <= n {
		return s
	}
	return string(runes[:n-1]) + "…"
}

// redacted replaces a secret in error text.
const redacted = "[redacted]"

// replaceSecrets replaces the password and the session tokens in s, and the username when withUsername: text
// from the API may echo a login back. The username is only replaced there, since it is also a common word
// (StorageOS's default is "storageos") that the client's own messages use.
func (c *Client) replaceSecrets(s, token string, withUsername bool) string {
	c.mu.Lock()
	current := c.token
	c.mu.Unlock()
	secrets := []string{c.creds.Password, token, current}
	if withUsername {
		secrets = append(secrets, c.creds.Username)
	}
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, redacted)
		}
	}
	return s
}

// redact is the last check on an error before it leaves the client: should a message from below (a transport
// error, a decoder's) carry the password or a token, the caller gets the message with it replaced. The error
// still unwraps to the original, so errors.Is and IsUnavailable keep working.
func (c *Client) redact(err error, token string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := c.replaceSecrets(msg, token, false); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
}
