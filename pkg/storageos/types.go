// Package storageos is a typed client for the parts of the StorageOS HTTP API the operator uses: login, the
// cluster-wide configuration, node health and maintenance mode.
package storageos

// Cluster is the cluster-wide configuration of GET/PUT /v2/cluster.
type Cluster struct {
	ID                    string `json:"id,omitempty"`
	DisableTelemetry      bool   `json:"disableTelemetry"`
	DisableCrashReporting bool   `json:"disableCrashReporting"`
	DisableVersionCheck   bool   `json:"disableVersionCheck"`
	LogLevel              string `json:"logLevel,omitempty"`
	LogFormat             string `json:"logFormat,omitempty"`
	// Version is the optimistic-concurrency token: a PUT must send the version it read.
	Version string `json:"version,omitempty"`
}

// NodeHealth is a node's health as StorageOS reports it.
type NodeHealth string

// The health states StorageOS reports.
const (
	NodeHealthOnline  NodeHealth = "online"
	NodeHealthOffline NodeHealth = "offline"
	NodeHealthUnknown NodeHealth = "unknown"
)

// Node is one entry of GET /v2/nodes.
type Node struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	Health NodeHealth `json:"health"`
	// Components are the health of the node's components, as the original operator reported them per node.
	Components NodeComponents `json:"components,omitzero"`
	// Labels are the StorageOS node's labels; the cluster-manager copies Kubernetes node labels into them.
	Labels map[string]string `json:"labels,omitempty"`
	// Version is the optimistic-concurrency token: a PUT of the node must send the version it read.
	Version string `json:"version,omitempty"`
}

// ComponentAlive is a healthy component's state; anything else (e.g. "unknown", "dead") is not healthy.
const ComponentAlive = "alive"

// NodeComponents are the health states of a StorageOS node's components.
type NodeComponents struct {
	DirectfsInitiator string `json:"directfsInitiator,omitempty"`
	Director          string `json:"director,omitempty"`
	KV                string `json:"kv,omitempty"`
	KVWrite           string `json:"kvWrite,omitempty"`
	Nats              string `json:"nats,omitempty"`
	Presentation      string `json:"presentation,omitempty"`
	Rdb               string `json:"rdb,omitempty"`
}

// Credentials are the StorageOS API username and password, from the cluster's secret.
type Credentials struct {
	Username string
	Password string
}

// String keeps credentials out of logs and error messages however they are printed.
func (Credentials) String() string { return "storageos.Credentials{redacted}" }

// GoString keeps credentials out of %#v output.
func (c Credentials) GoString() string { return c.String() }

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Session struct {
		Token string `json:"token"`
	} `json:"session"`
}
