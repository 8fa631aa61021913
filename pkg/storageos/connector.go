package storageos

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

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

// ServiceEndpoint is the StorageOS API inside the cluster: the cluster's Service, over plain HTTP.
func ServiceEndpoint(c *storageosv1.StorageOSCluster) string {
	return serviceEndpoint("http", c)
}

func serviceEndpoint(scheme string, c *storageosv1.StorageOSCluster) string {
	return fmt.Sprintf("%s://%s.%s.svc:%d", scheme, c.Spec.Service.Name, c.Spec.Namespace, c.Spec.Service.ExternalPort)
}

// FixedEndpoint reaches the StorageOS API of every cluster at url, for managers that run outside the cluster
// (make run-cluster-manager, a local demo) where the Service's DNS name does not resolve.
func FixedEndpoint(url string) func(*storageosv1.StorageOSCluster) string {
	return func(*storageosv1.StorageOSCluster) string { return url }
}

// Access is how a manager reaches the StorageOS APIs: the same flags for every manager that talks to it.
type Access struct {
	// Endpoint says where a cluster's API is; the cluster's Service when nil.
	Endpoint func(*storageosv1.StorageOSCluster) string
	// CAFile is a PEM bundle of the CAs that sign the API's serving certificate. When set, the Service is reached
	// over HTTPS and its certificate verified against these CAs only, so the admin password goes only to a server
	// that proves it is StorageOS.
	CAFile string
}

// BindFlags registers --storageos-api-endpoint and --storageos-api-ca-file.
func (a *Access) BindFlags(fs *flag.FlagSet) {
	fs.Func("storageos-api-endpoint", "The StorageOS API's URL, when the manager runs outside the cluster (default: the cluster's Service).",
		func(url string) error { a.Endpoint = FixedEndpoint(url); return nil })
	fs.StringVar(&a.CAFile, "storageos-api-ca-file", "",
		"A PEM file of the CAs that sign the StorageOS API's certificate: the API is then reached over HTTPS and verified (default: plain HTTP inside the cluster).")
}

// Connector returns a Connector that reaches the APIs as a says, with the CA file read once, now.
func (a *Access) Connector() (*Connector, error) {
	c := &Connector{Endpoint: a.Endpoint}
	if a.CAFile == "" {
		return c, nil
	}
	// A CA means "verify the API": an http:// endpoint would send the password in clear all the same.
	if a.Endpoint != nil {
		if u := a.Endpoint(&storageosv1.StorageOSCluster{}); !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("--storageos-api-endpoint %s is not https, but --storageos-api-ca-file asks for a verified TLS connection", u)
		}
	}
	pem, err := os.ReadFile(a.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading --storageos-api-ca-file: %w", err)
	}
	c.roots = x509.NewCertPool()
	if !c.roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--storageos-api-ca-file %s holds no PEM certificate", a.CAFile)
	}
	return c, nil
}

// Connector hands out StorageOS API clients and reuses one client, and so one login session, per endpoint and
// credentials: the managers talk to the API on every resync and upgrade step, and logging in each time would
// double the requests. New credentials (a rotated secret) get a new client. It is safe for concurrent use.
type Connector struct {
	// Endpoint says where a cluster's API is; the cluster's Service when nil. Tests point it at the simulator.
	Endpoint func(*storageosv1.StorageOSCluster) string
	// roots, when set, verify the API's certificate, and the Service is reached over HTTPS.
	roots *x509.CertPool

	mu      sync.Mutex
	clients map[[sha256.Size]byte]API
}

// maxClients bounds the cache; there is one active cluster, so it only fills with credential rotations.
const maxClients = 8

// Connect returns a client for the cluster's API that logs in with creds.
func (c *Connector) Connect(cluster *storageosv1.StorageOSCluster, creds Credentials) API {
	var url string
	switch {
	case c.Endpoint != nil:
		url = c.Endpoint(cluster)
	case c.roots != nil:
		url = serviceEndpoint("https", cluster)
	default:
		url = ServiceEndpoint(cluster)
	}
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
	var opts []Option
	if c.roots != nil {
		opts = append(opts, WithRootCAs(c.roots))
	}
	api := New(url, creds, opts...)
	c.clients[key] = api
	return api
}

// ConnectWithSecret connects to the cluster's API with the credentials of the Secret its spec names, read
// through reader. Its error goes to status and events, which people who cannot read the Secret may see: it says
// the Secret could not be read, not whether it exists; the log says why.
func (c *Connector) ConnectWithSecret(ctx context.Context, reader client.Reader, cluster *storageosv1.StorageOSCluster) (API, error) {
	key := types.NamespacedName{Namespace: string(cluster.Spec.SecretRefNamespace), Name: string(cluster.Spec.SecretRefName)}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, key, secret); err != nil {
		log.FromContext(ctx).Info("reading the StorageOS API secret", "secret", key.String(), "reason", err.Error())
		return nil, errors.New("the Secret named by the cluster's secretRefName could not be read")
	}
	return c.Connect(cluster, CredentialsFromSecret(secret.Data)), nil
}
