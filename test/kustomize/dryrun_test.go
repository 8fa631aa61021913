package kustomize

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// stubCRD stands in for a CRD another project installs (cert-manager, the Prometheus Operator): the API server
// must know the kind to dry-run our objects of it; their own schemas are those projects' business.
func stubCRD(group, version, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: plural, ListKind: kind + "List"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: version, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
}

// Every install (overlays/prometheus holds the prometheus component), the optional network-policy base and the
// OLM install (CatalogSource, OperatorGroup, Subscription) are accepted by a real API server.
func TestEveryInstallIsAcceptedByTheAPIServer(t *testing.T) {
	ctx := context.Background()
	require.NoError(t, apiextensionsv1.AddToScheme(testEnv.Client.Scheme()))
	for _, crd := range []*apiextensionsv1.CustomResourceDefinition{
		stubCRD("cert-manager.io", "v1", "Issuer", "issuers"),
		stubCRD("cert-manager.io", "v1", "Certificate", "certificates"),
		stubCRD("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"),
		stubCRD("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules"),
		stubCRD("operators.coreos.com", "v1alpha1", "CatalogSource", "catalogsources"),
		stubCRD("operators.coreos.com", "v1alpha1", "Subscription", "subscriptions"),
		stubCRD("operators.coreos.com", "v1", "OperatorGroup", "operatorgroups"),
	} {
		require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(ctx, crd)))
	}
	// Namespaced objects are dry-run into a namespace that exists.
	require.NoError(t, client.IgnoreAlreadyExists(testEnv.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "storageos-operator"}})))

	for _, dir := range append(append([]string{}, installs...), "network-policy", "olm") {
		t.Run(dir, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "install.yaml")
			require.NoError(t, os.WriteFile(file, render(t, dir).yaml, 0o600))
			var out string
			var err error
			// Stub CRDs become served a moment after they are created.
			require.Eventually(t, func() bool {
				out, err = testEnv.Kubectl(ctx, "apply", "--server-side", "--force-conflicts", "--dry-run=server",
					"--field-manager=install-test", "-f", file)
				return err == nil
			}, timeout, tick, "kubectl apply --dry-run=server config/%s: %v", dir, err)
			assert.NotContains(t, out, "error")
		})
	}
}
