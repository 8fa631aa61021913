package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// kustomizeWebhook is the webhook config/webhook registers.
func kustomizeWebhook(t *testing.T) admissionregistrationv1.MutatingWebhook {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "config", "webhook", "manifests.yaml"))
	require.NoError(t, err)
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	require.NoError(t, yaml.UnmarshalStrict(data, &cfg))
	require.Len(t, cfg.Webhooks, 1)
	return cfg.Webhooks[0]
}

// The webhook OLM registers from the bundle (built with OLM's own code, for an AllNamespaces OperatorGroup,
// which gives no namespaceSelector) is config/webhook's in every field but those a webhook description cannot
// carry, and each scoping rule left out is one the handler applies itself.
func TestWebhookDefinitionIsScopedLikeKustomize(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	require.Len(t, bundle.CSV.Spec.WebhookDefinitions, 1)
	desc := bundle.CSV.Spec.WebhookDefinitions[0]
	olm := desc.GetMutatingWebhook("operators", nil, nil)

	want := kustomizeWebhook(t)
	require.NotNil(t, want.NamespaceSelector, "config/webhook scopes by namespace")
	require.NotEmpty(t, want.MatchConditions, "config/webhook scopes by matchConditions")
	assert.Equal(t, *want.ClientConfig.Service.Path, *olm.ClientConfig.Service.Path)
	assert.Equal(t, *want.ClientConfig.Service.Port, *olm.ClientConfig.Service.Port)
	require.NoError(t, checkHandlerScoping(want), "every rule the definition cannot carry is the handler's")

	// What OLM cannot be told: where the Service is (OLM makes it), and the two scoping fields.
	want.ClientConfig, olm.ClientConfig = admissionregistrationv1.WebhookClientConfig{}, admissionregistrationv1.WebhookClientConfig{}
	want.NamespaceSelector, want.MatchConditions = nil, nil
	assert.Equal(t, want, olm, "every other field is carried as config/webhook sets it")

	for rule, why := range handlerScoping {
		assert.NotEmpty(t, why, "why the handler covers %q", rule)
	}
}

// A scoping rule added to config/webhook that the handler is not known to apply fails the bundle: under OLM it
// would be dropped without a word.
func TestUnknownWebhookScopingFailsTheBundle(t *testing.T) {
	base := kustomizeWebhook(t)
	cases := map[string]func(w *admissionregistrationv1.MutatingWebhook){
		"another namespace requirement": func(w *admissionregistrationv1.MutatingWebhook) {
			w.NamespaceSelector.MatchExpressions = append(w.NamespaceSelector.MatchExpressions,
				metav1.LabelSelectorRequirement{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"system"}})
		},
		"the opt-out label's value changed": func(w *admissionregistrationv1.MutatingWebhook) {
			w.NamespaceSelector.MatchExpressions[1].Values = []string{"off"}
		},
		"match labels": func(w *admissionregistrationv1.MutatingWebhook) {
			w.NamespaceSelector.MatchLabels = map[string]string{"storageos": "yes"}
		},
		"another matchCondition": func(w *admissionregistrationv1.MutatingWebhook) {
			w.MatchConditions = append(w.MatchConditions, admissionregistrationv1.MatchCondition{Name: "not-kube-system",
				Expression: "request.namespace != 'kube-system'"})
		},
		"a matchCondition's expression changed": func(w *admissionregistrationv1.MutatingWebhook) {
			w.MatchConditions[0].Expression = "has(object.spec.volumes)"
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			w := *base.DeepCopy()
			change(&w)
			err := checkHandlerScoping(w)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "handlerScoping")

			in := inputs{webhook: &admissionregistrationv1.MutatingWebhookConfiguration{Webhooks: []admissionregistrationv1.MutatingWebhook{w}}}
			_, err = in.webhookDefinitions()
			assert.Error(t, err, "the bundle is not generated")
		})
	}
	require.NoError(t, checkHandlerScoping(base))
	// Whitespace is not a change: YAML folds the expressions differently from how they are written here.
	w := *base.DeepCopy()
	w.MatchConditions[0].Expression = "  " + w.MatchConditions[0].Expression + "\n"
	assert.NoError(t, checkHandlerScoping(w))
}
