// Package prometheus tests the alerts of config/prometheus/prometheus_rule.yaml with promtool: the rules
// file (the PrometheusRule's spec, as internal/prometheusrules writes it for any Prometheus) must pass
// promtool check rules, and the unit tests *_test.yaml of this directory promtool test rules. It also checks
// that every alert carries what an on-call needs (severity, summary, description, a runbook section in
// docs/runbooks.md) and is unit tested firing and not firing.
//
// promtool is $PROMTOOL (make test and make test-rules set it), or else bin/promtool-<version> as make promtool
// installs it; without either the tests fail, so that the rules never go untested unnoticed.
package prometheus

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/prometheusrules"
	"github.com/storageos/cluster-operator/internal/test/envtest"
)

// promtoolVersion is the PROMETHEUS_VERSION of the Makefile (TestPromtoolVersionIsTheMakefiles checks): the
// Prometheus module version whose promtool make promtool installs as bin/promtool-<version>.
const promtoolVersion = "v0.316.0"

const runbooks = "docs/runbooks.md"

const runbookURL = "https://github.com/storageos/cluster-operator/blob/main/" + runbooks + "#"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := envtest.RepoRoot()
	require.NoError(t, err)
	return root
}

// promtool is the promtool binary to run: $PROMTOOL, or bin/promtool-<version>.
func promtool(t *testing.T, root string) string {
	t.Helper()
	path := os.Getenv("PROMTOOL")
	if path == "" {
		path = filepath.Join(root, "bin", "promtool-"+promtoolVersion)
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "promtool is missing: run `make promtool` (or `make test-rules`, which builds it), or set PROMTOOL to a promtool binary")
	return path
}

// unitTests are the promtool unit test files of this directory.
func unitTests(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*_test.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no promtool unit tests (*_test.yaml) in test/prometheus")
	return files
}

// The rules file passes promtool's checks and every unit test. The unit tests name rules.yaml, which is
// written next to copies of them.
func TestRulesPassPromtool(t *testing.T) {
	root := repoRoot(t)
	bin := promtool(t, root)
	dir := t.TempDir()
	require.NoError(t, prometheusrules.WriteRulesFile(root, filepath.Join(dir, "rules.yaml")))
	tests := unitTests(t)
	for _, f := range tests {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o600))
	}

	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
	run("check", "rules", "--lint=all", "--lint-fatal", "rules.yaml")
	run(append([]string{"test", "rules"}, tests...)...)
}

// Every rule is an alert with a severity, a summary, a description that gives the value (and the object, when
// the rule keeps one), and a runbook URL whose anchor is the lower-cased alert name and a section of
// docs/runbooks.md; every alert section of the runbooks is an alert.
func TestEveryAlertHasARunbook(t *testing.T) {
	root := repoRoot(t)
	rules, err := prometheusrules.Load(root)
	require.NoError(t, err)
	anchors := headingAnchors(t, filepath.Join(root, runbooks))

	alerts := map[string]bool{}
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "group %s has a recording rule: this file holds alerts only", g.Name)
			alerts[r.Alert] = true
			assert.True(t, strings.HasPrefix(r.Alert, "StorageOS"), "%s: alert names start with StorageOS", r.Alert)
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], "%s: severity", r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], "%s: summary", r.Alert)
			description := r.Annotations["description"]
			assert.Contains(t, description, "$value", "%s: the description gives the value", r.Alert)
			if strings.Contains(r.Expr, "by (namespace, name") {
				assert.Contains(t, description, "$labels.namespace", "%s: the description names the object", r.Alert)
				assert.Contains(t, description, "$labels.name", "%s: the description names the object", r.Alert)
			}
			assert.Equal(t, runbookURL+strings.ToLower(r.Alert), r.Annotations["runbook_url"], "%s: runbook_url", r.Alert)
			assert.True(t, anchors[strings.ToLower(r.Alert)], "%s: %s has no section %q", r.Alert, runbooks, r.Alert)
			for key := range r.Annotations {
				assert.Contains(t, []string{"summary", "description", "runbook_url"}, key, "%s: annotation", r.Alert)
			}
		}
	}
	for _, name := range alertHeadings(t, filepath.Join(root, runbooks)) {
		assert.True(t, alerts[name], "%s has a section %q, which is no alert", runbooks, name)
	}
}

// promtoolTests holds the fields of a promtool unit test file this test reads.
type promtoolTests struct {
	Tests []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `json:"exp_labels"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// Every alert is unit tested firing at each of its severities, and not firing (before its for:, once
// resolved, or where it must not fire).
func TestEveryAlertIsUnitTested(t *testing.T) {
	rules, err := prometheusrules.Load(repoRoot(t))
	require.NoError(t, err)
	fired := map[string]bool{}  // alert/severity
	silent := map[string]bool{} // alert
	for _, f := range unitTests(t) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var tests promtoolTests
		require.NoError(t, yaml.Unmarshal(data, &tests), f)
		for _, test := range tests.Tests {
			for _, c := range test.AlertRuleTest {
				if len(c.ExpAlerts) == 0 {
					silent[c.Alertname] = true
				}
				for _, a := range c.ExpAlerts {
					fired[c.Alertname+"/"+a.ExpLabels["severity"]] = true
				}
			}
		}
	}
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			assert.True(t, fired[r.Alert+"/"+r.Labels["severity"]], "no unit test expects %s to fire with severity %s", r.Alert, r.Labels["severity"])
			assert.True(t, silent[r.Alert], "no unit test expects %s not to fire", r.Alert)
		}
	}
}

// The default promtool path is the one make promtool installs.
func TestPromtoolVersionIsTheMakefiles(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^PROMETHEUS_VERSION \?= (\S+)$`).FindSubmatch(data)
	require.NotNil(t, m, "the Makefile sets no PROMETHEUS_VERSION")
	assert.Equal(t, promtoolVersion, string(m[1]), "promtoolVersion in rules_test.go follows PROMETHEUS_VERSION in the Makefile")
}

// headingAnchors are the anchors GitHub gives the Markdown headings of file.
func headingAnchors(t *testing.T, file string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, h := range headings(t, file) {
		out[anchor(h)] = true
	}
	return out
}

// alertHeadings are the second-level headings of file that name an alert (StorageOS...).
func alertHeadings(t *testing.T, file string) []string {
	t.Helper()
	var out []string
	for _, h := range headings(t, file) {
		if name, ok := strings.CutPrefix(h, "## "); ok && strings.HasPrefix(name, "StorageOS") {
			out = append(out, name)
		}
	}
	return out
}

// headings are the ATX headings of a Markdown file (with their #s), outside code blocks.
func headings(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	fenced := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced && strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	require.NoError(t, s.Err())
	return out
}

// anchor is GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
func anchor(heading string) string {
	text := strings.TrimSpace(strings.TrimLeft(heading, "#"))
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"## StorageOSAPIDown":       "storageosapidown",
		"# Runbooks: StorageOS ops": "runbooks-storageos-ops",
		"### `kubectl` (checks)":    "kubectl-checks",
	} {
		assert.Equal(t, want, anchor(heading), heading)
	}
}
