// Package simulator is an in-process StorageOS API: the endpoints the operator uses, with state that tests and
// the local demo inspect, and faults they inject (rejected credentials, slowness, an outage, expired sessions).
package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/storageos/cluster-operator/pkg/storageos"
)

// Simulator serves the StorageOS API on a loopback port.
type Simulator struct {
	server *httptest.Server
	creds  storageos.Credentials

	mu          sync.Mutex
	tokens      map[string]bool
	cluster     storageos.Cluster
	version     int
	nodes       []storageos.Node
	maintenance bool
	rejectAuth  bool
	outage      bool
	latency     time.Duration
	requests    map[string]int
}

// New starts a simulator that accepts creds. Close it when done.
func New(creds storageos.Credentials) *Simulator {
	s := &Simulator{
		creds:    creds,
		tokens:   map[string]bool{},
		cluster:  storageos.Cluster{ID: "simulated-cluster", LogLevel: "info", LogFormat: "json"},
		version:  1,
		requests: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/auth/login", s.login)
	mux.HandleFunc("GET /v2/cluster", s.authenticated(s.getCluster))
	mux.HandleFunc("PUT /v2/cluster", s.authenticated(s.putCluster))
	mux.HandleFunc("GET /v2/nodes", s.authenticated(s.listNodes))
	mux.HandleFunc("POST /v1/cluster/maintenance", s.authenticated(s.setMaintenance(true)))
	mux.HandleFunc("DELETE /v1/cluster/maintenance", s.authenticated(s.setMaintenance(false)))
	s.server = httptest.NewServer(s.faults(mux))
	return s
}

// URL is the API endpoint, e.g. http://127.0.0.1:41234.
func (s *Simulator) URL() string { return s.server.URL }

// Close stops the server.
func (s *Simulator) Close() { s.server.Close() }

// SetNodes replaces the StorageOS nodes the API reports.
func (s *Simulator) SetNodes(nodes ...storageos.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = slices.Clone(nodes)
}

// Cluster is the cluster configuration as last written.
func (s *Simulator) Cluster() storageos.Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cluster
	c.Version = strconv.Itoa(s.version)
	return c
}

// Maintenance reports whether maintenance mode is on.
func (s *Simulator) Maintenance() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maintenance
}

// RejectCredentials makes every login fail with 401, as after a password change.
func (s *Simulator) RejectCredentials(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectAuth = reject
	if reject {
		s.tokens = map[string]bool{}
	}
}

// SetOutage makes the API drop every connection without answering, as when no StorageOS pod is running.
func (s *Simulator) SetOutage(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = down
}

// SetLatency delays every answer.
func (s *Simulator) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireSessions invalidates every session token, so the next call is refused with 401.
func (s *Simulator) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]bool{}
}

// Requests counts the requests served for "METHOD /path".
func (s *Simulator) Requests(methodAndPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodAndPath]
}

func (s *Simulator) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		outage, latency := s.outage, s.latency
		s.mu.Unlock()
		if outage {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if latency > 0 {
			select {
			case <-time.After(latency):
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Simulator) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ Username, Password string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "malformed login", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejectAuth || req.Username != s.creds.Username || req.Password != s.creds.Password {
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	buf := make([]byte, 16)
	_, _ = rand.Read(buf)
	token := hex.EncodeToString(buf)
	s.tokens[token] = true
	w.Header().Set("Authorization", "Bearer "+token)
	writeJSON(w, map[string]any{"id": "user-1", "username": req.Username, "session": map[string]string{"token": token}})
}

func (s *Simulator) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		ok := s.tokens[token]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "session expired or missing", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func (s *Simulator) getCluster(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Cluster())
}

func (s *Simulator) putCluster(w http.ResponseWriter, r *http.Request) {
	var in storageos.Cluster
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "malformed cluster", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if in.Version != strconv.Itoa(s.version) {
		s.mu.Unlock()
		http.Error(w, "version conflict", http.StatusConflict)
		return
	}
	in.ID = s.cluster.ID
	s.cluster = in
	s.version++
	s.mu.Unlock()
	writeJSON(w, s.Cluster())
}

func (s *Simulator) listNodes(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	nodes := slices.Clone(s.nodes)
	s.mu.Unlock()
	if nodes == nil {
		nodes = []storageos.Node{}
	}
	writeJSON(w, nodes)
}

func (s *Simulator) setMaintenance(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.maintenance = on
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
