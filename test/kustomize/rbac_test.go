package kustomize

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/storageos/cluster-operator/pkg/cluster/desired"
)

// forbiddenVerbs would let a holder grant itself, or act as, anyone: with them a role is cluster-admin in disguise.
var forbiddenVerbs = []string{"*", "escalate", "impersonate"}

// bindable are the only roles any binary may bind (grant to others): the StorageOS components' roles, shipped
// with the install, and the built-in scheduler roles the scheduler extender runs with.
func bindable() []string {
	var out []string
	for _, r := range desired.ComponentClusterRoles() {
		out = append(out, r.Name)
	}
	return append(out, desired.BuiltinSchedulerRoles...)
}

// TestNoInstalledRoleCanEscalate fails when a role of any install gains escalate, impersonate, a wildcard, or a
// bind that is not limited to the roles the StorageOS components need, or write access to roles themselves.
func TestNoInstalledRoleCanEscalate(t *testing.T) {
	for _, dir := range installs {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			check := func(kind, name string, rules []rbacv1.PolicyRule) {
				for _, rule := range rules {
					where := kind + " " + name
					for _, v := range forbiddenVerbs {
						assert.NotContains(t, rule.Verbs, v, "%s grants %q", where, v)
					}
					assert.NotContains(t, rule.Resources, "*", "%s grants every resource", where)
					assert.NotContains(t, rule.APIGroups, "*", "%s grants every API group", where)
					assert.NotContains(t, rule.NonResourceURLs, "*", "%s grants every URL", where)
					if !slices.Contains(rule.APIGroups, rbacv1.GroupName) {
						continue
					}
					for _, res := range rule.Resources {
						if res != "clusterroles" && res != "roles" {
							continue
						}
						for _, v := range rule.Verbs {
							switch v {
							case "get", "list", "watch":
							case "bind":
								assert.NotEmpty(t, rule.ResourceNames, "%s may bind any %s", where, res)
								for _, n := range rule.ResourceNames {
									assert.Contains(t, bindable(), n, "%s may bind %s, which is not a StorageOS component's role", where, n)
								}
							default:
								assert.Failf(t, "role write", "%s may %s %s: roles ship with the install, no binary writes them", where, v, res)
							}
						}
					}
				}
			}
			for _, role := range all[rbacv1.ClusterRole](t, r, "ClusterRole") {
				check("ClusterRole", role.Name, role.Rules)
			}
			for _, role := range all[rbacv1.Role](t, r, "Role") {
				check("Role", role.Namespace+"/"+role.Name, role.Rules)
			}
			if dir == "default" {
				for _, role := range all[rbacv1.ClusterRole](t, r, "ClusterRole") {
					if strings.HasPrefix(role.Name, "storageos-") {
						t.Logf("%s: %d rules", role.Name, len(role.Rules))
					}
				}
			}
		})
	}
}
