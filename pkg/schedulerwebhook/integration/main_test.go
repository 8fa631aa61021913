//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

// Package integration runs the scheduler webhook behind a real kube-apiserver. It is apart from the
// webhook package so that package's unit tests and fuzzing do not start a control plane.
package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	crenvtest "sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

var (
	testEnv  *envtest.Environment
	requests envtest.RequestCounter
	install  *crenvtest.WebhookInstallOptions
)

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv, startWebhook)
}

// startWebhook registers config/webhook/manifests.yaml with the API server, pointed at an in-process webhook
// server with certificates envtest made, so the real kube-apiserver calls the webhook over TLS.
func startWebhook(env *envtest.Environment) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	data, err := os.ReadFile(filepath.Join(env.RootDir, "config", "webhook", "manifests.yaml"))
	if err != nil {
		cancel()
		return nil, err
	}
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := yaml.Unmarshal(data, cfg); err != nil {
		cancel()
		return nil, err
	}
	// Namespaces a test reserves for a webhook of its own (TestSelfManagedCertificates) are not the suite's
	// webhook's: were both asked, a pod sent to the StorageOS scheduler would not say which one answered.
	cfg.Webhooks[0].NamespaceSelector.MatchExpressions = append(cfg.Webhooks[0].NamespaceSelector.MatchExpressions,
		metav1.LabelSelectorRequirement{Key: testWebhookLabel, Operator: metav1.LabelSelectorOpDoesNotExist})
	install = &crenvtest.WebhookInstallOptions{MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{cfg}}
	if err := install.Install(env.Config); err != nil {
		cancel()
		return nil, fmt.Errorf("installing the webhook configuration: %w", err)
	}
	asWebhook, err := env.AsBinary(ctx, "scheduler-webhook")
	if err != nil {
		cancel()
		return nil, err
	}
	opts := manager.NewOptions("scheduler-webhook", "")
	opts.Webhook = &webhook.Options{Host: install.LocalServingHost, Port: install.LocalServingPort, CertDir: install.LocalServingCertDir}
	mgr, err := env.NewManager(opts, requests.Wrap, asWebhook)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := schedulerwebhook.Setup(ctx, mgr, &schedulerwebhook.Handler{}); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctrl.LoggerInto(ctx, ctrl.Log)) }()

	addr := net.JoinHostPort(install.LocalServingHost, strconv.Itoa(install.LocalServingPort))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			_ = conn.Close()
			break
		}
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("the webhook server never listened on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("webhook caches never synced")
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "scheduler-webhook stopped with:", err)
		}
		_ = install.Cleanup()
	}, nil
}

// testWebhookLabel on a namespace names the test's own webhook configuration that serves it.
const testWebhookLabel = "test.storageos.com/webhook"

const (
	timeout = 90 * time.Second
	tick    = 100 * time.Millisecond
)
