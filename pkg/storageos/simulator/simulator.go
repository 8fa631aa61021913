// Package simulator is an in-process StorageOS API: the endpoints the operator uses, with state that tests and
// the local demo inspect, and faults they inject (rejected credentials, slowness, an outage, expired sessions,
// an unhealthy node component, a node's labels changed behind the operator's back).
package simulator

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
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
	nodes       []*node
	maintenance bool
	rejectAuth  bool
	outage      bool
	latency     time.Duration
	requests    map[string]int
}

// New starts a simulator that accepts creds, over plain HTTP. Close it when done.
func New(creds storageos.Credentials) *Simulator {
	return start(creds, false)
}

// NewTLS starts a simulator that serves HTTPS with a certificate of its own CA (CAPEM). Close it when done.
func NewTLS(creds storageos.Credentials) *Simulator {
	return start(creds, true)
}

// CAPEM is the PEM of the certificate a TLS simulator serves, the CA a client must trust; nil over HTTP.
func (s *Simulator) CAPEM() []byte {
	if s.server.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.server.Certificate().Raw})
}

func start(creds storageos.Credentials, useTLS bool) *Simulator {
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
	mux.HandleFunc("PUT /v2/nodes/{id}", s.authenticated(s.putNode))
	mux.HandleFunc("POST /v1/cluster/maintenance", s.authenticated(s.setMaintenance(true)))
	mux.HandleFunc("DELETE /v1/cluster/maintenance", s.authenticated(s.setMaintenance(false)))
	s.server = httptest.NewUnstartedServer(s.faults(mux, mux))
	if useTLS {
		s.server.StartTLS()
	} else {
		s.server.Start()
	}
	return s
}

// URL is the API endpoint, e.g. http://127.0.0.1:41234.
func (s *Simulator) URL() string { return s.server.URL }

// Close stops the server.
func (s *Simulator) Close() { s.server.Close() }

// node is a StorageOS node as the simulator keeps it: what SetNodes gave, the labels' version, and the
// component states set explicitly (never nil).
type node struct {
	storageos.Node
	version    int
	components map[string]string
}

// Components are the names SetComponent takes: the JSON names of storageos.NodeComponents' fields.
var Components = []string{"directfsInitiator", "director", "kv", "kvWrite", "nats", "presentation", "rdb"}

// SetNodes replaces the StorageOS nodes the API reports: their membership and health, and, where a node sets
// them, its labels and component states. A node already known by ID keeps its labels and version unless the new
// node sets Labels (which then bumps the version), and keeps the states SetComponent gave it unless the new node
// sets Components: as a real node keeps its labels across a health change, and as the demo calls SetNodes
// every half second. The version of a new node is "1".
func (s *Simulator) SetNodes(nodes ...storageos.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := map[string]*node{}
	for _, n := range s.nodes {
		known[n.ID] = n
	}
	s.nodes = make([]*node, 0, len(nodes))
	for _, in := range nodes {
		n := &node{Node: in, version: 1, components: componentMap(in.Components)}
		if old, ok := known[in.ID]; ok {
			n.version = old.version
			if in.Labels == nil {
				n.Labels = old.Labels
			} else {
				n.version++
			}
			if in.Components == (storageos.NodeComponents{}) {
				n.components = old.components
			}
		}
		n.Labels = maps.Clone(n.Labels)
		s.nodes = append(s.nodes, n)
	}
}

// SetLabels replaces the labels of the node called name, as a user of the StorageOS CLI would, and bumps its
// version. It panics if there is no such node: a test that names one expects it.
func (s *Simulator) SetLabels(name string, labels map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.mustNode(name)
	n.Labels = maps.Clone(labels)
	n.version++
}

// SetComponent sets the state of one component (one of Components) of the node called name, e.g. "unknown" to
// make its rdb unhealthy, or storageos.ComponentAlive to heal it. A component never set is alive while the node
// is online and "unknown" otherwise. It panics on an unknown node or component: a test that names one expects it.
func (s *Simulator) SetComponent(name, component, state string) {
	if !slices.Contains(Components, component) {
		panic(fmt.Sprintf("simulator: no component %q; the components are %v", component, Components))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNode(name).components[component] = state
}

// Node is the node called name as the API reports it, and whether there is one.
func (s *Simulator) Node(name string) (storageos.Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.nodes {
		if n.Name == name {
			return n.report(), true
		}
	}
	return storageos.Node{}, false
}

func (s *Simulator) mustNode(name string) *node {
	for _, n := range s.nodes {
		if n.Name == name {
			return n
		}
	}
	panic(fmt.Sprintf("simulator: no node called %q", name))
}

// report is the node as GET /v2/nodes shows it, sharing nothing with the simulator's state.
func (n *node) report() storageos.Node {
	out := n.Node
	out.Labels = maps.Clone(n.Labels)
	out.Version = strconv.Itoa(n.version)
	def := "unknown"
	if n.Health == storageos.NodeHealthOnline {
		def = storageos.ComponentAlive
	}
	state := func(component string) string {
		if v, ok := n.components[component]; ok {
			return v
		}
		return def
	}
	out.Components = storageos.NodeComponents{
		DirectfsInitiator: state("directfsInitiator"), Director: state("director"), KV: state("kv"),
		KVWrite: state("kvWrite"), Nats: state("nats"), Presentation: state("presentation"), Rdb: state("rdb"),
	}
	return out
}

// componentMap turns the states a SetNodes caller gave into SetComponent's form; empty fields are not set.
func componentMap(c storageos.NodeComponents) map[string]string {
	out := map[string]string{}
	for name, v := range map[string]string{
		"directfsInitiator": c.DirectfsInitiator, "director": c.Director, "kv": c.KV, "kvWrite": c.KVWrite,
		"nats": c.Nats, "presentation": c.Presentation, "rdb": c.Rdb,
	} {
		if v != "" {
			out[name] = v
		}
	}
	return out
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

// SetCredentials changes the accepted credentials, as an administrator changing the StorageOS password does;
// sessions opened with the old ones stay valid until they expire.
func (s *Simulator) SetCredentials(creds storageos.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds = creds
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

// Requests counts the requests received for "METHOD /path", e.g. "PUT /v2/nodes/node-a-id", or for a route
// with a wildcard, e.g. "PUT /v2/nodes/{id}" for the updates of every node. Requests refused by a fault count.
func (s *Simulator) Requests(methodAndPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodAndPath]
}

// faults counts the request under its path and its route (mux's pattern, when it differs) and injects the
// faults before next serves it.
func (s *Simulator) faults(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		_, route := mux.Handler(r)
		s.mu.Lock()
		s.requests[key]++
		if route != "" && route != key {
			s.requests[route]++
		}
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
	nodes := make([]storageos.Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		nodes = append(nodes, n.report())
	}
	s.mu.Unlock()
	writeJSON(w, nodes)
}

// putNode replaces a node's labels if the request carries the node's current version, as the StorageOS v2 API
// does; the simulator answers a stale version with 409 Conflict.
func (s *Simulator) putNode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Labels  map[string]string `json:"labels"`
		Version string            `json:"version"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "malformed node update", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	idx := slices.IndexFunc(s.nodes, func(n *node) bool { return n.ID == r.PathValue("id") })
	if idx < 0 {
		s.mu.Unlock()
		http.Error(w, "node not found", http.StatusNotFound)
		return
	}
	n := s.nodes[idx]
	if in.Version != strconv.Itoa(n.version) {
		s.mu.Unlock()
		http.Error(w, "version conflict", http.StatusConflict)
		return
	}
	n.Labels = maps.Clone(in.Labels)
	n.version++
	out := n.report()
	s.mu.Unlock()
	writeJSON(w, out)
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
