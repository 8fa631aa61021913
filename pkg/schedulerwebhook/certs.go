package schedulerwebhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
)

// With self-managed certificates the webhook keeps its CA and serving certificate in one Secret of its own
// namespace (cert-controller watches the namespace's Secrets to notice changes to it), creates that Secret when
// it is missing, and writes the CA bundle into its MutatingWebhookConfiguration.
// +kubebuilder:rbac:groups="",namespace=storageos-operator,resources=secrets,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=update,resourceNames=storageos-scheduler-webhook

// Files in the serving certificate directory. ca.crt is optional for external certificates (cert-manager
// writes it); when present the readiness check verifies the served chain against it.
const (
	certFile = "tls.crt"
	keyFile  = "tls.key"
	caFile   = "ca.crt"
)

// CertOptions says where the webhook's serving certificate comes from.
type CertOptions struct {
	// SelfManaged generates a CA and serving certificate into SecretName, rotates them before they expire,
	// injects the CA into ConfigurationName and writes the serving pair into CertDir. When false, CertDir is
	// filled by someone else (a cert-manager Certificate mounted there) and only reloaded on change.
	SelfManaged bool
	// Namespace holds the certificate Secret; it is the webhook's own namespace.
	Namespace string
	// SecretName is the Secret holding ca.crt, ca.key, tls.crt and tls.key.
	SecretName string
	// ConfigurationName is the MutatingWebhookConfiguration whose caBundle is kept current.
	ConfigurationName string
	// DNSNames are the names the serving certificate is valid for; the first is also what the readiness
	// check expects. By default: the Service's in-cluster names.
	DNSNames []string
	// CertDir is where the server reads tls.crt and tls.key (the webhook server's cert directory).
	CertDir string
	// ServingAddress is the host:port the webhook server listens on, which the readiness check dials.
	ServingAddress string

	// CAValidity and CertValidity are the lifetimes of new certificates; a certificate is renewed when it
	// would expire within RenewBefore, checked every CheckInterval and whenever the Secret changes. Zero means
	// cert-controller's defaults (10 years, 1 year, 90 days, 12 hours).
	CAValidity, CertValidity, RenewBefore, CheckInterval time.Duration

	// ControllerName names the rotation controller; it only needs setting when one process runs several.
	ControllerName string
}

// ServiceDNSNames are the names the API server uses for a webhook Service.
func ServiceDNSNames(service, namespace string) []string {
	return []string{service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// Certificates makes the webhook serve with a valid certificate, self-managed or external, and reports ready
// only once it does. Every replica runs the rotation: writes to the Secret are optimistic (resource version),
// so concurrent replicas converge on whichever certificate was written first.
type Certificates struct {
	o CertOptions
	// serving and roots are the pair and CA last seen in the Secret (self-managed only): the server serves
	// from memory, so it can start before the first certificate exists and switches to a new one at once.
	serving atomic.Pointer[tls.Certificate]
	roots   atomic.Pointer[x509.CertPool]
	// files watches the pair in CertDir (external only). It is ours rather than the webhook server's so that
	// the expiry metric reads the very certificate the server serves, reloaded or not.
	files atomic.Pointer[certwatcher.CertWatcher]
}

// NewCertificates returns the certificate handling described by o.
func NewCertificates(o CertOptions) *Certificates {
	return &Certificates{o: o}
}

// TLSOpt goes into the webhook server's TLSOpts. With self-managed certificates it serves the Secret's pair
// from memory; with external ones it serves the files in CertDir as Setup's watcher last loaded them (the
// server loads and watches them itself when Setup was not called).
func (c *Certificates) TLSOpt(cfg *tls.Config) {
	if !c.o.SelfManaged {
		if files := c.files.Load(); files != nil {
			cfg.GetCertificate = files.GetCertificate
		}
		return
	}
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if cert := c.serving.Load(); cert != nil {
			return cert, nil
		}
		return nil, errors.New("no serving certificate issued yet")
	}
}

// Setup adds the rotation (self-managed) or the watch of CertDir (external), the readiness check and the
// certificate expiry metric to the manager.
func (c *Certificates) Setup(ctx context.Context, mgr ctrl.Manager) error {
	o := c.o
	if len(o.DNSNames) == 0 {
		return errors.New("certificates: no DNS name for the serving certificate")
	}
	if err := registerCertificateExpiry(c.servedCertificate); err != nil {
		return fmt.Errorf("certificates: registering the expiry metric: %w", err)
	}
	if !o.SelfManaged {
		files, err := c.watchFiles()
		if err != nil {
			return err
		}
		if err := mgr.Add(files); err != nil {
			return err
		}
		return mgr.AddReadyzCheck("certificate", ServingCertificateCheck(o.ServingAddress, o.DNSNames[0], func() (*x509.CertPool, error) {
			return readRoots(filepath.Join(o.CertDir, caFile))
		}))
	}
	if err := os.MkdirAll(o.CertDir, 0o700); err != nil {
		return fmt.Errorf("certificates: creating %s: %w", o.CertDir, err)
	}
	key := types.NamespacedName{Namespace: o.Namespace, Name: o.SecretName}
	if err := ensureSecret(ctx, mgr, key); err != nil {
		return err
	}

	ready := make(chan struct{})
	if err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:              key,
		CertDir:                o.CertDir,
		CAName:                 "storageos-scheduler-webhook-ca",
		CAOrganization:         "StorageOS",
		DNSName:                o.DNSNames[0],
		ExtraDNSNames:          o.DNSNames[1:],
		IsReady:                ready,
		Webhooks:               []rotator.WebhookInfo{{Name: o.ConfigurationName, Type: rotator.Mutating}},
		FieldOwner:             names.SchedulerWebhook,
		CaCertDuration:         o.CAValidity,
		ServerCertDuration:     o.CertValidity,
		LookaheadInterval:      o.RenewBefore,
		RotationCheckFrequency: o.CheckInterval,
		ControllerName:         o.ControllerName,
		EnableReadinessCheck:   true,
	}); err != nil {
		return fmt.Errorf("certificates: adding the rotator: %w", err)
	}
	if err := c.watchSecret(mgr, key); err != nil {
		return err
	}

	serving := ServingCertificateCheck(o.ServingAddress, o.DNSNames[0], func() (*x509.CertPool, error) {
		if roots := c.roots.Load(); roots != nil {
			return roots, nil
		}
		return nil, errors.New("no CA issued yet")
	})
	return mgr.AddReadyzCheck("certificate", func(req *http.Request) error {
		select {
		case <-ready:
		default:
			return errors.New("certificate not yet issued and injected into the webhook configuration")
		}
		return serving(req)
	})
}

// watchFiles loads the external pair from CertDir and returns the watcher that reloads it when the files
// change, which must be started; TLSOpt serves from it from then on.
func (c *Certificates) watchFiles() (*certwatcher.CertWatcher, error) {
	files, err := certwatcher.New(filepath.Join(c.o.CertDir, certFile), filepath.Join(c.o.CertDir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("certificates: loading the serving certificate in %s: %w", c.o.CertDir, err)
	}
	c.files.Store(files)
	return files, nil
}

// servedCertificate is the certificate the webhook server serves now, nil before it has one.
func (c *Certificates) servedCertificate() *x509.Certificate {
	var pair *tls.Certificate
	if c.o.SelfManaged {
		pair = c.serving.Load()
	} else if files := c.files.Load(); files != nil {
		pair, _ = files.GetCertificate(nil) // never fails: it returns what it loaded
	}
	if pair == nil || len(pair.Certificate) == 0 {
		return nil
	}
	if pair.Leaf != nil {
		return pair.Leaf
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil // the TLS handshake would fail on it as well: nothing valid is served
	}
	return leaf
}

// ensureSecret creates the empty certificate Secret the rotator fills; the rotator only updates Secrets.
func ensureSecret(ctx context.Context, mgr ctrl.Manager, key types.NamespacedName) error {
	secret := &corev1.Secret{}
	err := mgr.GetAPIReader().Get(ctx, key, secret)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("certificates: reading Secret %s: %w", key, err)
	}
	secret = &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace, Labels: map[string]string{
			names.LabelName:      "storageos-scheduler-webhook",
			names.LabelPartOf:    "storageos-cluster-operator",
			names.LabelManagedBy: names.SchedulerWebhook,
		}},
		Type: corev1.SecretTypeOpaque,
	}
	// Another replica may create it at the same moment: either Secret is the one.
	if err := mgr.GetClient().Create(ctx, secret, client.FieldOwner(names.SchedulerWebhook)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("certificates: creating Secret %s: %w", key, err)
	}
	return nil
}

// watchSecret follows the Secret: the server serves its pair from memory, and the files in CertDir are kept in
// step because cert-controller waits for them before it reports ready (in a pod they would come from a Secret
// volume, which the kubelet refreshes only every minute or more). The CA key never leaves the Secret.
func (c *Certificates) watchSecret(mgr ctrl.Manager, key types.NamespacedName) error {
	cc, err := kube.SecretCache(mgr, key)
	if err != nil {
		return fmt.Errorf("certificates: creating the Secret cache: %w", err)
	}
	informer, err := cc.GetInformer(context.Background(), &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("certificates: Secret informer: %w", err)
	}
	log := mgr.GetLogger().WithName("certificates")
	update := func(obj any) {
		secret, ok := obj.(*corev1.Secret)
		if !ok || secret.Name != key.Name || len(secret.Data[certFile]) == 0 {
			return
		}
		pair, err := tls.X509KeyPair(secret.Data[certFile], secret.Data[keyFile])
		if err != nil {
			// A Secret edited by hand may pair a certificate with another key; the rotator replaces it.
			log.Error(err, "The Secret holds no usable serving certificate", "secret", key)
			return
		}
		if roots := x509.NewCertPool(); roots.AppendCertsFromPEM(secret.Data[caFile]) {
			c.roots.Store(roots)
		}
		c.serving.Store(&pair)
		if err := writeCertFiles(c.o.CertDir, secret.Data); err != nil {
			log.Error(err, "Unable to write the serving certificate", "dir", c.o.CertDir)
		}
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
		// cert-controller only updates the Secret: one deleted while running is created again (empty), and the
		// rotator then issues a new CA and certificate into it. Until then the server keeps serving the last one.
		DeleteFunc: func(any) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := ensureSecret(ctx, mgr, key); err != nil {
				log.Error(err, "Unable to create the deleted certificate Secret again", "secret", key)
			}
		},
	}); err != nil {
		return err
	}
	return mgr.Add(cc)
}

// writeCertFiles writes the serving pair and the CA certificate when they changed. The key is written before
// the certificate, and each file by rename, so the server never loads a half-written file; a certificate
// that does not match its key yet is retried by the server's file watcher on the next write.
func writeCertFiles(dir string, data map[string][]byte) error {
	if len(data[certFile]) == 0 || len(data[keyFile]) == 0 {
		return nil // not issued yet
	}
	for _, name := range []string{caFile, keyFile, certFile} {
		content := data[name]
		if len(content) == 0 {
			continue
		}
		if old, err := os.ReadFile(filepath.Join(dir, name)); err == nil && string(old) == string(content) {
			continue
		}
		// Only this process's Secret handler writes here, so one fixed temporary name per file is enough.
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, content, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// readRoots reads a CA bundle; a missing file means no CA to check against (nil, nil).
func readRoots(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", path)
	}
	return roots, nil
}

// ServingCertificateCheck is a readiness check that connects to the webhook server as the API server would
// and fails unless the certificate it serves is current, valid for dnsName and, when roots returns a pool,
// signed by one of its CAs.
func ServingCertificateCheck(addr, dnsName string, roots func() (*x509.CertPool, error)) healthz.Checker {
	return func(req *http.Request) error {
		roots, err := roots()
		if err != nil {
			return err
		}
		conf := &tls.Config{
			ServerName: dnsName,
			MinVersion: tls.VersionTLS12,
			// Verification is done below, so that it also runs without a CA (certificates provided from outside).
			InsecureSkipVerify: true, //nolint:gosec // VerifyConnection verifies.
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("no certificate served")
				}
				leaf := cs.PeerCertificates[0]
				if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
					return fmt.Errorf("served certificate is valid from %s to %s", leaf.NotBefore, leaf.NotAfter)
				}
				if roots == nil {
					return leaf.VerifyHostname(dnsName)
				}
				intermediates := x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					intermediates.AddCert(c)
				}
				_, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, Intermediates: intermediates})
				return err
			},
		}
		dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: conf}
		conn, err := dialer.DialContext(req.Context(), "tcp", addr)
		if err != nil {
			return fmt.Errorf("serving certificate: %w", err)
		}
		return conn.Close()
	}
}
