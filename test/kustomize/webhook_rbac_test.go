package kustomize

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
)

// grantedTo is every rule of every role bound to a ServiceAccount in an install.
func grantedTo(t *testing.T, r rendered, namespace, account string) []rbacv1.PolicyRule {
	t.Helper()
	clusterRoles := map[string][]rbacv1.PolicyRule{}
	for _, role := range all[rbacv1.ClusterRole](t, r, "ClusterRole") {
		clusterRoles[role.Name] = role.Rules
	}
	roles := map[string][]rbacv1.PolicyRule{}
	for _, role := range all[rbacv1.Role](t, r, "Role") {
		roles[role.Namespace+"/"+role.Name] = role.Rules
	}
	binds := func(subjects []rbacv1.Subject) bool {
		return slices.ContainsFunc(subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == namespace && s.Name == account
		})
	}
	var out []rbacv1.PolicyRule
	for _, b := range all[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding") {
		if binds(b.Subjects) {
			out = append(out, clusterRoles[b.RoleRef.Name]...)
		}
	}
	for _, b := range all[rbacv1.RoleBinding](t, r, "RoleBinding") {
		if !binds(b.Subjects) {
			continue
		}
		if b.RoleRef.Kind == "ClusterRole" {
			out = append(out, clusterRoles[b.RoleRef.Name]...)
		} else {
			out = append(out, roles[b.Namespace+"/"+b.RoleRef.Name]...)
		}
	}
	return out
}

// certificateResources are what only self-managed webhook certificates need: the Secret holding them and the
// webhook configuration their CA is injected into.
var certificateResources = []string{"secrets", "mutatingwebhookconfigurations"}

// touchesCertificates reports whether a rule names a certificate resource (or every resource).
func touchesCertificates(rule rbacv1.PolicyRule) bool {
	return slices.ContainsFunc(rule.Resources, func(res string) bool {
		return res == "*" || slices.Contains(certificateResources, res)
	})
}

// writesTo lists the write verbs a set of rules grants on a resource.
func writesTo(rules []rbacv1.PolicyRule, resource string) []string {
	var out []string
	for _, rule := range rules {
		if !slices.Contains(rule.Resources, resource) && !slices.Contains(rule.Resources, "*") {
			continue
		}
		for _, v := range rule.Verbs {
			if slices.Contains([]string{"*", "create", "update", "patch", "delete", "deletecollection"}, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// With cert-manager's certificates (--disable-cert-rotation) the scheduler-webhook writes neither its
// certificate Secret nor its webhook configuration, so the installs that use them grant it no rights there; it
// keeps every other rule of the default install. The default install, which rotates its own certificates,
// still grants those writes: the check would notice them.
func TestWebhookWithCertManagerCannotWriteCertificates(t *testing.T) {
	const namespace, account = "storageos-operator", "storageos-scheduler-webhook"
	defaults := grantedTo(t, render(t, "default"), namespace, account)
	for _, res := range certificateResources {
		assert.NotEmpty(t, writesTo(defaults, res), "default: self-managed certificates need writes to %s", res)
	}
	var others []rbacv1.PolicyRule
	for _, rule := range defaults {
		if !touchesCertificates(rule) {
			others = append(others, rule)
		}
	}
	require.NotEmpty(t, others)

	for _, dir := range []string{"overlays/cert-manager", "overlays/prometheus"} {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			d := deployments(t, r)["storageos-scheduler-webhook"]
			require.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--disable-cert-rotation")
			rules := grantedTo(t, r, namespace, account)
			for _, res := range certificateResources {
				assert.Empty(t, writesTo(rules, res), "the webhook may write %s", res)
			}
			for _, rule := range rules {
				assert.False(t, touchesCertificates(rule), "the webhook keeps a rule it has only for its own certificates: %+v", rule)
			}
			assert.ElementsMatch(t, others, rules, "every other rule of the default install is kept")
		})
	}
}
