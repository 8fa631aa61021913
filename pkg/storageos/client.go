package storageos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
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
type Client struct {
	endpoint string
	creds    Credentials
	http     *http.Client

	mu    sync.Mutex
	token string
}

var _ API = (*Client)(nil)

// Option configures a Client.
type Option func(*Client)

// WithTimeout sets the timeout of each request.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.http = &http.Client{Timeout: d, Transport: c.http.Transport} }
}

// New returns a client for the API at endpoint, e.g. "http://storageos.storageos.svc:5705".
func New(endpoint string, creds Credentials, opts ...Option) *Client {
	c := &Client{
		endpoint: strings.TrimSuffix(endpoint, "/"),
		creds:    creds,
		http:     &http.Client{Timeout: DefaultTimeout},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Login starts a session; the other calls log in on their own when needed.
func (c *Client) Login(ctx context.Context) error {
	_, err := c.login(ctx)
	return err
}

func (c *Client) login(ctx context.Context) (string, error) {
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
		return "", statusError("login", resp)
	}
	// StorageOS returns the session token in the Authorization header; the body's session.token is the same.
	token := strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
	if token == "" {
		var lr loginResponse
		if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
			return "", fmt.Errorf("decoding login response: %w", err)
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
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()

	for attempt := 0; ; attempt++ {
		if token == "" {
			var err error
			if token, err = c.login(ctx); err != nil {
				return err
			}
		}
		resp, err := c.send(ctx, method, path, token, body)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			drain(resp)
			token = ""
			continue
		}
		defer drain(resp) //nolint:gocritic // deferInLoop: every path from here returns, so it runs once
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return ErrUnauthorized
		// The StorageOS v2 API's OpenAPI description answers a stale version with 412 Precondition Failed;
		// 409 Conflict (which the simulator answers) means the same here.
		case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusPreconditionFailed:
			return ErrConflict
		case resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, statusError(method+" "+path, resp))
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			return statusError(method+" "+path, resp)
		}
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("decoding %s %s: %w", method, path, err)
		}
		return nil
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

// statusError describes an unexpected answer; server errors count as the API being unavailable.
func statusError(op string, resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, strings.TrimSpace(string(msg)))
	if resp.StatusCode >= 500 {
		return &UnavailableError{Op: op, Err: err}
	}
	return err
}

// drain lets the connection be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
}
