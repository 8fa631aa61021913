package storageos

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"sync"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Keys of the API secret (secretRefName) that hold the StorageOS admin credentials.
const (
	SecretUsernameKey = "apiUsername"
	SecretPasswordKey = "apiPassword"
)

// CredentialsFromSecret reads the StorageOS admin credentials from the data of a cluster's API secret.
func CredentialsFromSecret(data map[string][]byte) Credentials {
	return Credentials{Username: string(data[SecretUsernameKey]), Password: string(data[SecretPasswordKey])}
}

// ServiceEndpoint is the StorageOS API inside the cluster: the cluster's Service.
func ServiceEndpoint(c *storageosv1.StorageOSCluster) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", c.Spec.Service.Name, c.Spec.Namespace, c.Spec.Service.ExternalPort)
}

// BindEndpointFlag registers --storageos-api-endpoint, which points *endpoint at one URL for every cluster:
// for managers that run outside the cluster, where the Service's DNS name does not resolve.
func BindEndpointFlag(fs *flag.FlagSet, endpoint *func(*storageosv1.StorageOSCluster) string) {
	fs.Func("storageos-api-endpoint", "The StorageOS API's URL, when the manager runs outside the cluster (default: the cluster's Service).",
		func(url string) error { *endpoint = FixedEndpoint(url); return nil })
}

// FixedEndpoint reaches the StorageOS API of every cluster at url, for managers that run outside the cluster
// (make run-cluster-manager, a local demo) where the Service's DNS name does not resolve.
func FixedEndpoint(url string) func(*storageosv1.StorageOSCluster) string {
	return func(*storageosv1.StorageOSCluster) string { return url }
}

// Connector hands out StorageOS API clients and reuses one client, and so one login session, per endpoint and
// credentials: the managers talk to the API on every resync and upgrade step, and logging in each time would
// double the requests. New credentials (a rotated secret) get a new client. It is safe for concurrent use.
type Connector struct {
	// Endpoint says where a cluster's API is; ServiceEndpoint when nil. Tests point it at the simulator.
	Endpoint func(*storageosv1.StorageOSCluster) string

	mu      sync.Mutex
	clients map[[sha256.Size]byte]API
}

// maxClients bounds the cache; there is one active cluster, so it only fills with credential rotations.
const maxClients = 8

// Connect returns a client for the cluster's API that logs in with creds.
func (c *Connector) Connect(cluster *storageosv1.StorageOSCluster, creds Credentials) API {
	endpoint := ServiceEndpoint
	if c.Endpoint != nil {
		endpoint = c.Endpoint
	}
	url := endpoint(cluster)
	// Hashed, so the cache holds no password in clear beside the client that needs it anyway.
	key := sha256.Sum256([]byte(url + "\x00" + creds.Username + "\x00" + creds.Password))
	c.mu.Lock()
	defer c.mu.Unlock()
	if api, ok := c.clients[key]; ok {
		return api
	}
	if c.clients == nil || len(c.clients) >= maxClients {
		c.clients = map[[sha256.Size]byte]API{}
	}
	api := New(url, creds)
	c.clients[key] = api
	return api
}
