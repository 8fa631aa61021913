// Package prometheusrules reads the operator's alerts from the PrometheusRule that config/prometheus installs,
// and turns it into the plain rules file Prometheus and promtool load (the PrometheusRule's spec is that file's
// content). The rule tests (test/prometheus) and the demo's Prometheus load the same rules this way.
package prometheusrules

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// Path is where the PrometheusRule lives, relative to the repository root.
const Path = "config/prometheus/prometheus_rule.yaml"

// PrometheusRule holds a monitoring.coreos.com/v1 PrometheusRule: the fields this repository uses, decoded
// strictly so that a misspelt field fails instead of being dropped.
type PrometheusRule struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
}

// Metadata is the PrometheusRule's object metadata.
type Metadata struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// Spec is a rules file: what Prometheus' rule_files name.
type Spec struct {
	Groups []Group `json:"groups"`
}

// Group is a rule group, evaluated together at one interval.
type Group struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is an alerting rule (Alert set) or a recording rule (Record set).
type Rule struct {
	Alert         string            `json:"alert,omitempty"`
	Record        string            `json:"record,omitempty"`
	Expr          string            `json:"expr"`
	For           string            `json:"for,omitempty"`
	KeepFiringFor string            `json:"keep_firing_for,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Load reads the PrometheusRule of the repository at root.
func Load(root string) (*PrometheusRule, error) {
	file := filepath.Join(root, Path)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var r PrometheusRule
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if r.APIVersion != "monitoring.coreos.com/v1" || r.Kind != "PrometheusRule" {
		return nil, fmt.Errorf("%s: want a monitoring.coreos.com/v1 PrometheusRule, got %s %s", file, r.APIVersion, r.Kind)
	}
	if len(r.Spec.Groups) == 0 {
		return nil, fmt.Errorf("%s: no rule groups", file)
	}
	return &r, nil
}

// RulesFile returns the rules of the repository at root as a Prometheus rules file (YAML with groups:).
func RulesFile(root string) ([]byte, error) {
	r, err := Load(root)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(r.Spec)
}

// WriteRulesFile writes RulesFile(root) to file, for a Prometheus or promtool to load.
func WriteRulesFile(root, file string) error {
	data, err := RulesFile(root)
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o600)
}
