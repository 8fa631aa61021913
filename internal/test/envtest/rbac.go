package envtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// AsBinary returns a config mutator that makes a manager act as the named binary's ServiceAccount, bound to
// exactly the roles generated from that binary's RBAC markers (config/rbac/<binary>/role.yaml: a ClusterRole
// and, for namespaced rules, Roles) and its leader election Role. A suite whose controller runs this way
// proves the shipped roles are enough for everything it tests.
func (e *Environment) AsBinary(ctx context.Context, binary string) (func(*rest.Config), error) {
	const ns = "storageos-operator"
	name := "storageos-" + binary
	data, err := os.ReadFile(filepath.Join(e.RootDir, "config", "rbac", binary, "role.yaml"))
	if err != nil {
		return nil, err
	}
	// Leader-elected binaries also get their shipped leader election Role (Leases in the operator's namespace).
	if election, err := os.ReadFile(filepath.Join(e.RootDir, "config", "rbac", binary, "leader_election_role.yaml")); err == nil {
		data = append(append(data, []byte("\n---\n")...), election...)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}
	objects := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, err
		}
		switch meta.Kind {
		case "ClusterRole":
			role := &rbacv1.ClusterRole{}
			if err := yaml.Unmarshal([]byte(doc), role); err != nil {
				return nil, err
			}
			objects = append(objects, role, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: role.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
				Subjects:   subjects,
			})
		case "Role":
			role := &rbacv1.Role{}
			if err := yaml.Unmarshal([]byte(doc), role); err != nil {
				return nil, err
			}
			objects = append(objects,
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: role.Namespace}},
				role, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: role.Namespace},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
					Subjects:   subjects,
				})
		case "":
		default:
			return nil, fmt.Errorf("%s/role.yaml: unexpected kind %s", binary, meta.Kind)
		}
	}
	// The roles the binary binds for others (the StorageOS components' roles) are installed beside it, unbound.
	if components, err := os.ReadFile(filepath.Join(e.RootDir, "config", "rbac", binary, "component_roles.yaml")); err == nil {
		for _, doc := range strings.Split(string(components), "\n---\n") {
			role := &rbacv1.ClusterRole{}
			if err := yaml.Unmarshal([]byte(doc), role); err != nil {
				return nil, err
			}
			objects = append(objects, role)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, obj := range objects {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	user := ServiceAccount(ns, name)
	return func(cfg *rest.Config) { cfg.Impersonate = user }, nil
}
