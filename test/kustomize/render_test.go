package kustomize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const (
	timeout = 60 * time.Second
	tick    = 500 * time.Millisecond
)

var binaries = []string{"cluster-manager", "upgrade-manager", "job-manager", "scheduler-webhook"}

// installs are every kustomization a user installs from, relative to config/.
var installs = []string{"default", "overlays/dev", "overlays/production", "overlays/openshift", "overlays/cert-manager", "overlays/prometheus"}

// rendered is the output of one kustomization, by kind.
type rendered struct {
	yaml      []byte
	resources []*resource.Resource
}

func render(t *testing.T, dir string) rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(testEnv.RootDir, "config", dir))
	require.NoError(t, err, "kustomize build config/%s", dir)
	out, err := m.AsYaml()
	require.NoError(t, err)
	return rendered{yaml: out, resources: m.Resources()}
}

// all decodes every resource of a kind into typed objects, refusing fields the type does not know.
func all[T any](t *testing.T, r rendered, kind string) []*T {
	t.Helper()
	return decodeAll[T](t, r, kind, func(data []byte, obj any) error { return yaml.UnmarshalStrict(data, obj) })
}

func decodeAll[T any](t *testing.T, r rendered, kind string, unmarshal func([]byte, any) error) []*T {
	t.Helper()
	var out []*T
	for _, res := range r.resources {
		if res.GetKind() != kind {
			continue
		}
		data, err := res.AsYAML()
		require.NoError(t, err)
		obj := new(T)
		require.NoError(t, unmarshal(data, obj), "%s %s", kind, res.GetName())
		out = append(out, obj)
	}
	return out
}

func deployments(t *testing.T, r rendered) map[string]*appsv1.Deployment {
	out := map[string]*appsv1.Deployment{}
	for _, d := range all[appsv1.Deployment](t, r, "Deployment") {
		out[d.Name] = d
	}
	return out
}

func TestEveryInstallRendersWhatEachBinaryNeeds(t *testing.T) {
	for _, dir := range installs {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)

			seen := map[string]bool{}
			for _, res := range r.resources {
				key := res.GetKind() + "/" + res.GetNamespace() + "/" + res.GetName()
				assert.False(t, seen[key], "duplicate %s", key)
				seen[key] = true
			}

			accounts := map[string]bool{}
			for _, sa := range all[corev1.ServiceAccount](t, r, "ServiceAccount") {
				accounts[sa.Namespace+"/"+sa.Name] = true
			}
			var subjects []rbacv1.Subject
			for _, b := range all[rbacv1.ClusterRoleBinding](t, r, "ClusterRoleBinding") {
				subjects = append(subjects, b.Subjects...)
				assert.True(t, seen["ClusterRole//"+b.RoleRef.Name], "ClusterRoleBinding %s refers to a ClusterRole that is not installed", b.Name)
			}
			for _, b := range all[rbacv1.RoleBinding](t, r, "RoleBinding") {
				subjects = append(subjects, b.Subjects...)
				assert.True(t, seen[b.RoleRef.Kind+"/"+b.Namespace+"/"+b.RoleRef.Name] || seen[b.RoleRef.Kind+"//"+b.RoleRef.Name],
					"RoleBinding %s/%s refers to a %s that is not installed", b.Namespace, b.Name, b.RoleRef.Kind)
			}
			for _, s := range subjects {
				assert.True(t, accounts[s.Namespace+"/"+s.Name], "a binding names ServiceAccount %s/%s, which is not installed", s.Namespace, s.Name)
			}

			deploys := deployments(t, r)
			for _, b := range binaries {
				name := "storageos-" + b
				d := deploys[name]
				require.NotNil(t, d, "Deployment %s", name)
				pod := d.Spec.Template.Spec
				assert.True(t, accounts[d.Namespace+"/"+pod.ServiceAccountName], "%s runs as ServiceAccount %s, which is not installed", name, pod.ServiceAccountName)
				assert.True(t, seen["ClusterRoleBinding//"+name], "%s has its ClusterRoleBinding", name)
				if b != "scheduler-webhook" {
					assert.True(t, seen["RoleBinding/"+d.Namespace+"/"+name+"-leader-election"], "%s can take its Lease", name)
					assert.Contains(t, pod.Containers[0].Args, "--leader-elect")
				}
				selector := labels.SelectorFromSet(d.Spec.Selector.MatchLabels)
				assert.True(t, selector.Matches(labels.Set(d.Spec.Template.Labels)), "%s selects its own pods", name)
				assertSecure(t, d)
				assert.Equal(t, []string{"/" + b}, pod.Containers[0].Command, "%s runs its own binary", name)
				for _, c := range append(pod.InitContainers, pod.Containers...) {
					assert.NotEmpty(t, c.Image, "%s container %s has an image", name, c.Name)
					assert.NotContains(t, c.Image, ":latest@", "%s", c.Image)
				}
				assert.True(t, seen["Service/"+d.Namespace+"/"+name+"-metrics"], "%s has a metrics Service", name)
			}
			assertWebhookWiring(t, r, deploys["storageos-scheduler-webhook"])
		})
	}
}

// assertSecure checks the pod security every install keeps: the restricted profile, and no fixed IDs so that
// OpenShift can assign them.
func assertSecure(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	require.NotNil(t, pod.SecurityContext, d.Name)
	assert.True(t, *pod.SecurityContext.RunAsNonRoot, "%s runAsNonRoot", d.Name)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, pod.SecurityContext.SeccompProfile.Type, d.Name)
	assert.Nil(t, pod.SecurityContext.RunAsUser, "%s fixes no UID", d.Name)
	assert.Nil(t, pod.SecurityContext.FSGroup, "%s fixes no GID", d.Name)
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		require.NotNil(t, sc, "%s/%s", d.Name, c.Name)
		assert.False(t, *sc.AllowPrivilegeEscalation, "%s/%s", d.Name, c.Name)
		assert.True(t, *sc.ReadOnlyRootFilesystem, "%s/%s", d.Name, c.Name)
		assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s/%s", d.Name, c.Name)
		assert.Nil(t, sc.RunAsUser, "%s/%s fixes no UID", d.Name, c.Name)
		assert.NotNil(t, c.LivenessProbe, "%s/%s", d.Name, c.Name)
		assert.NotNil(t, c.ReadinessProbe, "%s/%s", d.Name, c.Name)
		assert.False(t, c.Resources.Requests.Memory().IsZero(), "%s/%s requests memory", d.Name, c.Name)
		assert.False(t, c.Resources.Limits.Memory().IsZero(), "%s/%s limits memory", d.Name, c.Name)
	}
}

// assertWebhookWiring checks that the API server's call reaches the webhook pods: configuration → Service →
// pod port, and that the certificate the pods serve is for that Service.
func assertWebhookWiring(t *testing.T, r rendered, d *appsv1.Deployment) {
	t.Helper()
	configs := all[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration")
	require.Len(t, configs, 1)
	hook := configs[0].Webhooks[0]
	ref := hook.ClientConfig.Service
	require.NotNil(t, ref, "the webhook is called through its Service")
	var svc *corev1.Service
	for _, s := range all[corev1.Service](t, r, "Service") {
		if s.Namespace == ref.Namespace && s.Name == ref.Name {
			svc = s
		}
	}
	require.NotNil(t, svc, "the configuration names Service %s/%s, which is not installed", ref.Namespace, ref.Name)
	assert.Equal(t, d.Namespace, svc.Namespace)
	assert.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)), "the Service selects the webhook pods")
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port {
			port = &svc.Spec.Ports[i]
		}
	}
	require.NotNil(t, port, "the Service has the configuration's port %d", *ref.Port)
	container := d.Spec.Template.Spec.Containers[0]
	served := false
	for _, p := range container.Ports {
		served = served || p.ContainerPort == port.TargetPort.IntVal || p.Name == port.TargetPort.StrVal
	}
	assert.True(t, served, "the Service's targetPort %s is a port of the webhook container", port.TargetPort.String())
	assert.Contains(t, container.Args, fmt.Sprintf("--webhook-port=%d", port.TargetPort.IntVal))
	assert.Equal(t, admissionregistrationv1.Ignore, *hook.FailurePolicy, "a webhook outage never blocks pods")
	assert.NotContains(t, hook.NamespaceSelector.MatchExpressions[0].Values, "", "the operator's namespace is excluded")
	assert.Contains(t, hook.NamespaceSelector.MatchExpressions[0].Values, d.Namespace, "the operator's own namespace is excluded")
}

func TestOverlaysChangeWhatTheySay(t *testing.T) {
	t.Run("dev: debug logs", func(t *testing.T) {
		for name, d := range deployments(t, render(t, "overlays/dev")) {
			assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--zap-devel", name)
			assert.Equal(t, int32(1), *d.Spec.Replicas, name)
		}
	})
	t.Run("production: two replicas, spread, a PDB, limits, priority", func(t *testing.T) {
		r := render(t, "overlays/production")
		for name, d := range deployments(t, r) {
			assert.Equal(t, int32(2), *d.Spec.Replicas, name)
			pod := d.Spec.Template.Spec
			assert.Equal(t, "storageos-operator", pod.PriorityClassName, name)
			require.NotNil(t, pod.Affinity, name)
			term := pod.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
			assert.Equal(t, d.Spec.Selector.MatchLabels, term.LabelSelector.MatchLabels, "%s spreads its own replicas", name)
			assert.False(t, pod.Containers[0].Resources.Limits.Cpu().IsZero(), name)
		}
		pdbs := all[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget")
		require.Len(t, pdbs, 1)
		assert.Equal(t, "storageos-scheduler-webhook", pdbs[0].Spec.Selector.MatchLabels["app.kubernetes.io/name"])
		assert.Contains(t, string(r.yaml), "kind: PriorityClass")
	})
	t.Run("openshift: restricted-v2 asked for by name, the distro hint", func(t *testing.T) {
		deploys := deployments(t, render(t, "overlays/openshift"))
		for name, d := range deploys {
			assert.Equal(t, "restricted-v2", d.Spec.Template.Annotations["openshift.io/required-scc"], name)
		}
		assert.Contains(t, deploys["storageos-cluster-manager"].Spec.Template.Spec.Containers[0].Args, "--default-k8s-distro=openshift")
	})
	t.Run("cert-manager: certificates from cert-manager", func(t *testing.T) {
		r := render(t, "overlays/cert-manager")
		d := deployments(t, r)["storageos-scheduler-webhook"]
		assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--disable-cert-rotation")
		assert.Equal(t, "storageos-scheduler-webhook-cert", d.Spec.Template.Spec.Volumes[0].Secret.SecretName)
		cfg := all[admissionregistrationv1.MutatingWebhookConfiguration](t, r, "MutatingWebhookConfiguration")[0]
		assert.Equal(t, "storageos-operator/storageos-scheduler-webhook-cert", cfg.Annotations["cert-manager.io/inject-ca-from"])
		assert.Contains(t, string(r.yaml), "kind: Certificate")
		assert.Contains(t, string(r.yaml), "secretName: storageos-scheduler-webhook-cert")
	})
}

// The image builds exactly the binaries the Deployments run.
func TestDeploymentsRunBinariesTheImageBuilds(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join(testEnv.RootDir, "Dockerfile"))
	require.NoError(t, err)
	for name, d := range deployments(t, render(t, "default")) {
		binary := strings.TrimPrefix(d.Spec.Template.Spec.Containers[0].Command[0], "/")
		assert.Contains(t, string(dockerfile), "-o /out/"+binary+" ./cmd/"+binary, "%s: the Dockerfile builds %s", name, binary)
		assert.Contains(t, string(dockerfile), "COPY --from=build /out/"+binary+" /"+binary, "%s: the image holds /%s", name, binary)
		_, err := os.Stat(filepath.Join(testEnv.RootDir, "cmd", binary, "main.go"))
		assert.NoError(t, err, "%s: cmd/%s exists", name, binary)
	}
}
