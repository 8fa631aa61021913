package prometheusrules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// root writes manifest as the PrometheusRule of a repository in a temporary directory.
func root(t *testing.T, manifest string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(Path)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, Path), []byte(manifest), 0o600))
	return dir
}

const valid = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: storageos-operator
  namespace: storageos-operator
spec:
  groups:
  - name: g
    rules:
    - alert: StorageOSX
      expr: |
        up
        == 0
      for: 1m
      labels: {severity: warning}
      annotations: {summary: "{{ $labels.instance }} is down"}
`

func TestRulesFileIsTheSpec(t *testing.T) {
	data, err := RulesFile(root(t, valid))
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal(data, &file))
	want := map[string]any{"groups": []any{map[string]any{"name": "g", "rules": []any{map[string]any{
		"alert": "StorageOSX", "expr": "up\n== 0\n", "for": "1m",
		"labels":      map[string]any{"severity": "warning"},
		"annotations": map[string]any{"summary": "{{ $labels.instance }} is down"},
	}}}}}
	assert.Equal(t, want, file)
}

func TestLoadRefuses(t *testing.T) {
	for name, manifest := range map[string]string{
		"another kind":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nspec: {groups: [{name: g, rules: []}]}\n",
		"a misspelt field": valid + "      anotations: {}\n",
		"no groups":        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec: {groups: []}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(root(t, manifest))
			assert.Error(t, err)
		})
	}
	_, err := Load(t.TempDir())
	assert.ErrorIs(t, err, os.ErrNotExist)
}
