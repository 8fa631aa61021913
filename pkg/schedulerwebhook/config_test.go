package schedulerwebhook

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The opt-outs config/webhook registers are the ones the handler applies itself, by the same names: the OLM
// bundle cannot carry config/webhook's namespaceSelector and matchConditions (hack/bundle's handlerScoping)
// and relies on the handler for them.
func TestShippedRegistrationUsesTheHandlersOptOuts(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	require.NoError(t, err)
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	require.NoError(t, yaml.UnmarshalStrict(data, &cfg))
	require.Len(t, cfg.Webhooks, 1)
	w := cfg.Webhooks[0]

	require.NotNil(t, w.NamespaceSelector)
	assert.Contains(t, w.NamespaceSelector.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: NamespaceOptOutLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{NamespaceOptOutValue}})
	assert.Equal(t, Path, *w.ClientConfig.Service.Path)
	conditions := map[string]string{}
	for _, c := range w.MatchConditions {
		conditions[c.Name] = c.Expression
	}
	require.Contains(t, conditions, "not-opted-out")
	assert.Contains(t, conditions["not-opted-out"], "['"+OptOutAnnotation+"'] != 'false'")
}
