// Command scheduler-webhook is the mutating admission webhook that sends pods using StorageOS volumes to the
// StorageOS scheduler.
//
// Every replica serves admission requests, so it never runs leader election.
package main

import (
	"context"
	"flag"
	"net"
	"os"
	"strconv"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

func main() {
	opts := manager.NewOptions("scheduler-webhook", "")
	opts.Webhook = &webhook.Options{Port: 9443, CertDir: "/tmp/k8s-webhook-server/serving-certs"}
	opts.BindFlags(flag.CommandLine)

	namespace := os.Getenv("POD_NAMESPACE")
	if namespace == "" {
		namespace = "storageos-operator"
	}
	certs := schedulerwebhook.CertOptions{SelfManaged: true, Namespace: namespace,
		SecretName: "storageos-scheduler-webhook-cert", ConfigurationName: "storageos-scheduler-webhook"}
	var disableRotation bool
	var serviceName string
	flag.BoolVar(&disableRotation, "disable-cert-rotation", false,
		"Use certificates provided in --webhook-cert-dir (e.g. by cert-manager) instead of generating, rotating and injecting them.")
	flag.StringVar(&certs.Namespace, "namespace", certs.Namespace,
		"The webhook's namespace, which holds its certificate Secret (default: $POD_NAMESPACE).")
	flag.StringVar(&certs.SecretName, "cert-secret-name", certs.SecretName, "The Secret holding the self-managed CA and serving certificate.")
	flag.StringVar(&serviceName, "webhook-service-name", "storageos-scheduler-webhook", "The Service the API server calls the webhook through.")
	flag.StringVar(&certs.ConfigurationName, "webhook-configuration-name", certs.ConfigurationName,
		"The MutatingWebhookConfiguration whose caBundle is kept current.")
	var extraDNSNames string
	flag.StringVar(&extraDNSNames, "cert-extra-dns-names", "",
		"Comma-separated names the serving certificate is also valid for, e.g. localhost when the API server calls the webhook by URL. "+
			"Applies to certificates issued from now on: a valid certificate already in the Secret is kept until renewed (delete the Secret to reissue at once).")
	flag.DurationVar(&certs.CertValidity, "cert-validity", 0, "Lifetime of a new serving certificate (default 1 year).")
	flag.DurationVar(&certs.RenewBefore, "cert-renew-before", 0, "Renew a certificate this long before it expires (default 90 days).")
	flag.Parse()

	certs.SelfManaged = !disableRotation
	certs.DNSNames = schedulerwebhook.ServiceDNSNames(serviceName, certs.Namespace)
	for _, name := range strings.Split(extraDNSNames, ",") {
		if name = strings.TrimSpace(name); name != "" {
			certs.DNSNames = append(certs.DNSNames, name)
		}
	}
	certs.CertDir = opts.Webhook.CertDir
	certs.ServingAddress = servingAddress(opts.Webhook)
	certificates := schedulerwebhook.NewCertificates(certs)
	opts.Webhook.TLSOpts = append(opts.Webhook.TLSOpts, certificates.TLSOpt)

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, func(ctx context.Context, mgr ctrl.Manager) error {
		if err := certificates.Setup(ctx, mgr); err != nil {
			return err
		}
		return schedulerwebhook.Setup(ctx, mgr, &schedulerwebhook.Handler{})
	}))
}

// servingAddress is where the readiness check reaches the webhook server from inside the process.
func servingAddress(o *webhook.Options) string {
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(o.Port))
}
