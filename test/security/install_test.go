package security

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/admission"
	"github.com/storageos/cluster-operator/pkg/names"
)

const (
	timeout     = 60 * time.Second
	tick        = 250 * time.Millisecond
	operatorNS  = "storageos-operator"
	bundleCSV   = "bundle/manifests/storageos.clusterserviceversion.yaml"
	installedBy = "storageos.com/test-install"
)

// installDefaultOverlay creates what `kubectl apply -k config/default` creates that matters to authority: the
// ServiceAccounts, every role and binding, and the admission policies.
func installDefaultOverlay(t *testing.T) {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(testEnv.RootDir, "config", "default"))
	require.NoError(t, err)
	var objs []client.Object
	for _, r := range m.Resources() {
		switch r.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			data, err := r.AsYAML()
			require.NoError(t, err)
			u := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal(data, &u.Object))
			objs = append(objs, u)
		}
	}
	createAll(t, objs)
}

// installBundle creates what OLM creates from the bundle: the CSV's permissions as roles bound to the
// ServiceAccounts, the ClusterRoles shipped beside it — and no admission policy, which the cluster-manager
// ensures when it starts: here the Ensurer runs as the cluster-manager's ServiceAccount with those permissions.
func installBundle(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testEnv.RootDir, bundleCSV))
	require.NoError(t, err)
	var csv struct {
		Spec struct {
			Install struct {
				Spec struct {
					ClusterPermissions []struct {
						ServiceAccountName string              `json:"serviceAccountName"`
						Rules              []rbacv1.PolicyRule `json:"rules"`
					} `json:"clusterPermissions"`
				} `json:"spec"`
			} `json:"install"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &csv))
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}}}
	for _, p := range csv.Spec.Install.Spec.ClusterPermissions {
		name := "olm-" + p.ServiceAccountName
		objs = append(objs,
			&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: p.ServiceAccountName, Namespace: operatorNS}},
			&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules},
			&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: p.ServiceAccountName, Namespace: operatorNS}}})
	}
	files, err := filepath.Glob(filepath.Join(testEnv.RootDir, "bundle", "manifests", "*_clusterrole.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		role := &rbacv1.ClusterRole{}
		require.NoError(t, yaml.Unmarshal(data, role))
		objs = append(objs, role)
	}
	createAll(t, objs)

	c := testEnv.ClientAs(t, envtest.ServiceAccount(operatorNS, names.ClusterManager))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// RBAC is eventually consistent in the authorizer's cache: the Ensurer retries, as in a real start-up.
	e := &admission.Ensurer{Client: c, FieldOwner: names.ClusterManager, Backoff: wait.Backoff{Duration: tick, Factor: 1, Steps: 1 << 20}}
	require.NoError(t, e.Start(ctx))
	require.NoError(t, ctx.Err(), "the cluster-manager's ServiceAccount could not ensure the admission policies: %v", admission.Ensure(context.Background(), c, names.ClusterManager))
	for _, p := range admission.Policies() {
		require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(p), &admissionregistrationv1.ValidatingAdmissionPolicy{}))
	}
	t.Cleanup(func() {
		for _, p := range admission.Policies() {
			_ = testEnv.Client.Delete(context.Background(), p)
		}
		for _, b := range admission.Bindings() {
			_ = testEnv.Client.Delete(context.Background(), b)
		}
	})
}

// createAll creates objs as the admin and deletes them when the test ends (the next install starts clean).
func createAll(t *testing.T, objs []client.Object) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range objs {
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[installedBy] = "true"
		obj.SetLabels(labels)
		err := testEnv.Client.Create(ctx, obj)
		if apierrors.IsAlreadyExists(err) && obj.GetObjectKind().GroupVersionKind().Kind == "Namespace" {
			continue
		}
		if _, ok := obj.(*corev1.Namespace); ok && apierrors.IsAlreadyExists(err) {
			continue
		}
		require.NoError(t, err, "%T %s", obj, obj.GetName())
	}
	t.Cleanup(func() {
		for _, obj := range objs {
			if obj.GetObjectKind().GroupVersionKind().Kind == "Namespace" {
				continue
			}
			if _, ok := obj.(*corev1.Namespace); ok {
				continue
			}
			_ = testEnv.Client.Delete(context.Background(), obj)
		}
	})
}
