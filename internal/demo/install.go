package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/localcluster"
	"github.com/storageos/cluster-operator/internal/proc"
)

// FieldOwner is the demo's field manager for what it installs.
const FieldOwner = "storageos-demo"

// install is the operator's own install (config/default), split into what the demo applies to the cluster
// and the Deployments whose containers it runs as local processes instead.
type install struct {
	objects     []*unstructured.Unstructured
	deployments map[string]*appsv1.Deployment // by binary: the container's command
}

// kinds the demo applies as they are; Deployments become processes and Services and network policies have
// nothing to route to on loopback.
var appliedKinds = []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "ClusterRole", "RoleBinding",
	"ClusterRoleBinding", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

// renderInstall builds the kustomization at dir, as make deploy does.
func renderInstall(dir string) (*install, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dir, err)
	}
	in := &install{deployments: map[string]*appsv1.Deployment{}}
	for _, r := range resources.Resources() {
		// Through JSON, so numbers are int64 or float64 as unstructured helpers expect (kyaml gives int).
		raw, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, err
		}
		m := u.Object
		switch {
		case u.GetKind() == "Deployment":
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, d); err != nil {
				return nil, err
			}
			if len(d.Spec.Template.Spec.Containers) == 0 || len(d.Spec.Template.Spec.Containers[0].Command) == 0 {
				return nil, fmt.Errorf("deployment %s has no container command", d.Name)
			}
			in.deployments[filepath.Base(d.Spec.Template.Spec.Containers[0].Command[0])] = d
		case slices.Contains(appliedKinds, u.GetKind()):
			in.objects = append(in.objects, u)
		}
	}
	return in, nil
}

// callWebhookAt points every webhook of the configuration at url: the API server cannot reach a Service on
// loopback, so it calls the webhook process directly (the serving certificate also names the URL's host).
func callWebhookAt(u *unstructured.Unstructured, url string) error {
	webhooks, _, err := unstructured.NestedSlice(u.Object, "webhooks")
	if err != nil {
		return err
	}
	for i := range webhooks {
		w := webhooks[i].(map[string]any)
		cc, _ := w["clientConfig"].(map[string]any)
		path, _, _ := unstructured.NestedString(cc, "service", "path")
		w["clientConfig"] = map[string]any{"url": url + path}
	}
	return unstructured.SetNestedSlice(u.Object, webhooks, "webhooks")
}

// apply server-side applies objects in order (namespaces and CRDs come first in kustomize's output).
func apply(ctx context.Context, c client.Client, objects []*unstructured.Unstructured) error {
	for _, u := range objects {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// waitEstablished waits until every CRD among objects serves its API.
func waitEstablished(ctx context.Context, c client.Client, objects []*unstructured.Unstructured) error {
	for _, u := range objects {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		err := proc.Wait(ctx, "CRD "+u.GetName()+" established", time.Minute, nil, func(ctx context.Context) error {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: u.GetName()}, crd); err != nil {
				return err
			}
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return errors.New("not established")
		})

		if err != nil {
			return err
		}
	}
	return nil
}

// readObjects decodes YAML files (one object each) into unstructured objects.
func readObjects(paths ...string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the ServiceAccount a Deployment runs as,
// with a token from the TokenRequest API, as a pod would get: each binary is held to its own RBAC.
func serviceAccountKubeconfig(ctx context.Context, cs kubernetes.Interface, server, caFile, namespace, serviceAccount, path string) error {
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, serviceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](7 * 24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for service account %s/%s: %w", namespace, serviceAccount, err)
	}
	return localcluster.WriteKubeconfig(path, server, caFile, &clientcmdapi.AuthInfo{Token: tr.Status.Token}, namespace)
}

// containerEnv is the container's literal env plus POD_NAMESPACE, which a pod gets from the downward API.
func containerEnv(d *appsv1.Deployment) []string {
	var env []string
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		switch {
		case e.Value != "":
			env = append(env, e.Name+"="+e.Value)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"="+d.Namespace)
		}
	}
	if !slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "POD_NAMESPACE=") }) {
		env = append(env, "POD_NAMESPACE="+d.Namespace)
	}
	return env
}
