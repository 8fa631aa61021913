package main

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

const root = "../.."

// The bundle is validated with the validators OLM and operator-sdk use (operator-sdk bundle validate with the
// operatorframework suite); any error or warning fails.
func TestBundleValidates(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	objs := bundle.ObjectsToValidate()
	// The newest Kubernetes the bundle is checked against for removed APIs.
	objs = append(objs, map[string]string{"k8s-version": "1.37"})
	// A copy: appending to the package-level slice could write into its spare capacity.
	validators := append(slices.Clone(validation.DefaultBundleValidators),
		validation.OperatorHubV2Validator,
		validation.StandardCategoriesValidator,
		validation.StandardCapabilitiesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.GoodPracticesValidator,
		validation.ObjectValidator,
	)
	var problems []errors.Error
	for _, result := range validators.Validate(objs...) {
		problems = append(problems, result.Errors...)
		problems = append(problems, result.Warnings...)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Level, p.Error())
	}
	t.Logf("%d validators, %d problems", len(validators), len(problems))
}

// bundle/ is what `make bundle` writes from config/: a change to config/ without regenerating fails here.
func TestBundleIsCurrent(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	csv := bundle.CSV
	files, err := Generate(root, Release{Version: csv.Spec.Version.String(), Image: csv.Annotations["containerImage"], Replaces: csv.Spec.Replaces})
	require.NoError(t, err)
	var onDisk []string
	require.NoError(t, filepath.Walk(filepath.Join(root, "bundle"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(root, "bundle"), path)
			onDisk = append(onDisk, rel)
		}
		return err
	}))
	onDisk = append(onDisk, "../bundle.Dockerfile")
	var generated []string
	for name, want := range files {
		generated = append(generated, name)
		got, err := os.ReadFile(filepath.Join(root, "bundle", name))
		if assert.NoError(t, err, "bundle/%s is missing: run make bundle", name) {
			assert.Equal(t, string(want), string(got), "bundle/%s is stale: run make bundle VERSION=%s", name, csv.Spec.Version.String())
		}
	}
	sort.Strings(onDisk)
	sort.Strings(generated)
	assert.Equal(t, generated, onDisk, "bundle/ holds files make bundle does not write")
}

// The bundle continues the original operator's package: package storageos, default channel stable, a CSV
// named in the original's line that replaces its v2.1.0 and skips every 2.x release before it.
func TestBundleContinuesTheOriginalPackage(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	csv := bundle.CSV
	ver := csv.Spec.Version.String()
	assert.Equal(t, "storageos", bundle.Package)
	assert.Equal(t, "stable", bundle.DefaultChannel)
	assert.Contains(t, bundle.Channels, "stable")
	assert.Equal(t, "storageosoperator.v"+ver, csv.Name)
	assert.Equal(t, "storageosoperator.v2.1.0", csv.Spec.Replaces)
	assert.Equal(t, ">=2.0.0 <"+ver, csv.Annotations["olm.skipRange"])
	assert.FileExists(t, filepath.Join(root, "bundle", "manifests", "storageos.clusterserviceversion.yaml"))
}

// The ClusterServiceVersion installs what config/default installs: the four Deployments, each ServiceAccount's
// permissions, the pod webhook (certificates from OLM), the images for disconnected installs and the examples.
func TestClusterServiceVersionDescribesTheOperator(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	csv := bundle.CSV
	strategy := csv.Spec.InstallStrategy.StrategySpec

	deployments := map[string]int{}
	for i, d := range strategy.DeploymentSpecs {
		deployments[d.Name] = i
		assert.Equal(t, csv.Annotations["containerImage"], d.Spec.Template.Spec.Containers[0].Image, d.Name)
	}
	accounts := map[string]bool{}
	for _, p := range strategy.ClusterPermissions {
		accounts[p.ServiceAccountName] = len(p.Rules) > 0
		if p.ServiceAccountName == "storageos-scheduler-webhook" {
			for _, r := range p.Rules {
				assert.NotContains(t, r.Resources, "mutatingwebhookconfigurations", "OLM owns the webhook configuration")
				assert.NotContains(t, r.Resources, "secrets")
			}
		}
	}
	for _, p := range strategy.Permissions {
		assert.NotEqual(t, "storageos-scheduler-webhook", p.ServiceAccountName, "the webhook needs no namespaced rights under OLM")
	}
	for _, b := range []string{"cluster-manager", "upgrade-manager", "job-manager", "scheduler-webhook"} {
		require.Contains(t, deployments, "storageos-"+b)
		assert.True(t, accounts["storageos-"+b], "%s has cluster permissions", b)
	}
	leaderElection := 0
	for _, p := range strategy.Permissions {
		for _, r := range p.Rules {
			if len(r.Resources) > 0 && r.Resources[0] == "leases" {
				leaderElection++
			}
		}
	}
	assert.Equal(t, 3, leaderElection, "the three managers may take their Lease")

	manager := strategy.DeploymentSpecs[deployments["storageos-cluster-manager"]].Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range manager.Env {
		env[e.Name] = e.Value
	}
	images := map[string]bool{}
	for _, r := range csv.Spec.RelatedImages {
		images[r.Image] = true
	}
	for name, image := range relatedImages {
		assert.Equal(t, image, env[name], "%s on the cluster-manager", name)
		assert.True(t, images[image], "%s in relatedImages", image)
	}
	assert.True(t, images[csv.Annotations["containerImage"]], "the operator image in relatedImages")

	require.Len(t, csv.Spec.WebhookDefinitions, 1)
	hook := csv.Spec.WebhookDefinitions[0]
	assert.Equal(t, "storageos-scheduler-webhook", hook.DeploymentName)
	assert.Equal(t, "/mutate-pods", *hook.WebhookPath)
	webhook := strategy.DeploymentSpecs[deployments["storageos-scheduler-webhook"]].Spec.Template.Spec
	assert.Contains(t, webhook.Containers[0].Args, "--disable-cert-rotation", "OLM issues and mounts the certificate")
	assert.Contains(t, webhook.Containers[0].Args, "--webhook-service-name=storageos-scheduler-webhook-service")
	assert.Empty(t, webhook.Volumes, "nothing mounted where OLM mounts the certificate")

	assert.Len(t, csv.Spec.CustomResourceDefinitions.Owned, 4)
	for _, crd := range csv.Spec.CustomResourceDefinitions.Owned {
		assert.NotEmpty(t, crd.Description, crd.Name)
		assert.NotEmpty(t, crd.SpecDescriptors, crd.Name)
		assert.NotEmpty(t, crd.StatusDescriptors, crd.Name)
	}
	assert.Equal(t, "1.30.0", csv.Spec.MinKubeVersion)
}

// The CSV owns every CRD of the bundle, NFSServer included, and describes every field of its spec and status
// for the console: a field added to an API type without a descriptor fails here. NFSServer's fields are named
// as in the original operator, which described the same spec fields.
func TestOwnedCRDsDescribeEveryField(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	owned := map[string]v1alpha1.CRDDescription{}
	for _, d := range bundle.CSV.Spec.CustomResourceDefinitions.Owned {
		owned[d.Name] = d
	}
	require.Len(t, bundle.V1CRDs, len(owned), "one owned description per CRD of the bundle")
	for _, crd := range bundle.V1CRDs {
		t.Run(crd.Spec.Names.Kind, func(t *testing.T) {
			d, ok := owned[crd.Name]
			require.True(t, ok, "the CSV owns %s", crd.Name)
			assert.Equal(t, crd.Spec.Names.Kind, d.Kind)
			assert.Equal(t, crd.Spec.Versions[0].Name, d.Version)
			assert.NotEmpty(t, d.DisplayName)
			assert.NotEmpty(t, d.Resources, "the kinds the operator creates for a %s", d.Kind)
			props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties
			specPaths := map[string]string{}
			for _, s := range d.SpecDescriptors {
				specPaths[s.Path] = s.Description
			}
			statusPaths := map[string]string{}
			xDescriptors := map[string][]string{}
			for _, s := range d.StatusDescriptors {
				statusPaths[s.Path] = s.Description
				xDescriptors[s.Path] = s.XDescriptors
			}
			assert.ElementsMatch(t, sortedKeys(props["spec"].Properties), sortedKeys(specPaths), "spec descriptors")
			assert.ElementsMatch(t, sortedKeys(props["status"].Properties), sortedKeys(statusPaths), "status descriptors")
			for path, desc := range specPaths {
				assert.NotEmpty(t, desc, "spec.%s", path)
			}
			for path, desc := range statusPaths {
				assert.NotEmpty(t, desc, "status.%s", path)
			}
			if _, ok := statusPaths["conditions"]; ok {
				assert.Equal(t, []string{"urn:alm:descriptor:io.kubernetes.conditions"}, xDescriptors["conditions"])
			}
		})
	}

	nfs, ok := owned["nfsservers.storageos.com"]
	require.True(t, ok, "the CSV owns nfsservers.storageos.com")
	assert.Equal(t, "NFSServer", nfs.Kind)
	assert.Equal(t, "v1", nfs.Version)
	assert.Equal(t, "NFS Server", nfs.DisplayName)
	assert.Contains(t, nfs.Description, "NFS")
	var spec, status []string
	for _, s := range nfs.SpecDescriptors {
		spec = append(spec, s.Path)
	}
	for _, s := range nfs.StatusDescriptors {
		status = append(status, s.Path)
	}
	assert.Subset(t, spec, []string{"nfsContainer", "storageClassName", "resources", "persistentVolumeClaim", "export",
		"persistentVolumeReclaimPolicy", "mountOptions", "tolerations", "annotations"})
	assert.Subset(t, status, []string{"phase", "remoteTarget", "accessModes", "conditions"})
	var kinds []string
	for _, r := range nfs.Resources {
		kinds = append(kinds, r.Kind)
	}
	assert.Subset(t, kinds, []string{"StatefulSet", "Service", "ConfigMap", "ServiceAccount", "PersistentVolumeClaim"})
	assert.FileExists(t, filepath.Join(root, "bundle", "manifests", "storageos.com_nfsservers.yaml"))
}

// The cluster-manager runs the NFSServer controller: its cluster permissions in the CSV are its ClusterRole's
// (config/rbac/cluster-manager), so it may manage NFSServers and what it creates for them.
func TestClusterManagerMayManageNFSServers(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	var rules []rbacv1.PolicyRule
	for _, p := range bundle.CSV.Spec.InstallStrategy.StrategySpec.ClusterPermissions {
		if p.ServiceAccountName == "storageos-cluster-manager" {
			rules = append(rules, p.Rules...)
		}
	}
	allows := func(group, resource, verb string) bool {
		for _, r := range rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ group, resource, verb string }{
		{"storageos.com", "nfsservers", "watch"},
		{"storageos.com", "nfsservers", "patch"},
		{"storageos.com", "nfsservers/status", "patch"},
		{"storageos.com", "nfsservers/finalizers", "update"},
		{"", "persistentvolumeclaims", "create"},
		{"", "persistentvolumeclaims", "delete"},
		{"", "persistentvolumes", "patch"},
		{"rbac.authorization.k8s.io", "rolebindings", "create"},
		{"", "configmaps", "create"},
		{"", "services", "create"},
		{"", "serviceaccounts", "create"},
		{"apps", "statefulsets", "create"},
	} {
		assert.True(t, allows(c.group, c.resource, c.verb), "the cluster-manager may %s %s.%s", c.verb, c.resource, c.group)
	}

	// Every rule controller-gen wrote from the +kubebuilder:rbac markers is in the CSV, none lost on the way.
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "cluster-manager", "role.yaml"))
	require.NoError(t, err)
	var role rbacv1.ClusterRole
	require.NoError(t, yaml.UnmarshalStrict(data, &role))
	require.NotEmpty(t, role.Rules)
	for _, r := range role.Rules {
		assert.Contains(t, rules, r)
	}
}

// Descriptions are cut at their first full stop, never at an abbreviation's.
func TestFirstSentence(t *testing.T) {
	for in, want := range map[string]string{
		"One. Two.":                            "One.",
		"No stop":                              "No stop",
		"The port, e.g. 10.96.0.12:2049. Then": "The port, e.g. 10.96.0.12:2049.",
		"A count (e.g. 3/3). More":             "A count (e.g. 3/3).",
		"That is, i.e. this.\nNext line.":      "That is, i.e. this.",
		"Ends with e.g.":                       "Ends with e.g.",
		"A knee.g. Two.":                       "A knee.g.",
	} {
		assert.Equal(t, want, firstSentence(in), in)
	}
}

// No ServiceAccount of the OLM install may escalate, impersonate or write roles, and every ClusterRole the
// cluster-manager binds for the StorageOS components ships in the bundle (it cannot create them itself).
func TestBundlePermissionsCannotEscalate(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	strategy := bundle.CSV.Spec.InstallStrategy.StrategySpec
	var rules []rbacv1.PolicyRule
	for _, p := range append(strategy.ClusterPermissions, strategy.Permissions...) {
		rules = append(rules, p.Rules...)
	}
	shipped := map[string]bool{}
	for _, obj := range bundle.Objects {
		if obj.GetKind() != "ClusterRole" {
			continue
		}
		shipped[obj.GetName()] = true
		var role rbacv1.ClusterRole
		data, err := obj.MarshalJSON()
		require.NoError(t, err)
		require.NoError(t, yaml.Unmarshal(data, &role))
		rules = append(rules, role.Rules...)
	}
	for _, r := range rules {
		for _, v := range []string{"*", "escalate", "impersonate"} {
			assert.NotContains(t, r.Verbs, v, "rule %v", r)
		}
		assert.NotContains(t, r.Resources, "*", "rule %v", r)
		assert.NotContains(t, r.APIGroups, "*", "rule %v", r)
		writesRoles := slices.Contains(r.Resources, "clusterroles") || slices.Contains(r.Resources, "roles")
		if !slices.Contains(r.APIGroups, rbacv1.GroupName) || !writesRoles {
			continue
		}
		for _, v := range r.Verbs {
			assert.Contains(t, []string{"get", "list", "watch", "bind"}, v, "no binary writes roles: rule %v", r)
			if v == "bind" {
				require.NotEmpty(t, r.ResourceNames, "bind is limited by name: rule %v", r)
				for _, name := range r.ResourceNames {
					// The built-in scheduler roles (desired.BuiltinSchedulerRoles), and the roles the bundle ships.
					builtin := name == "system:kube-scheduler" || name == "system:volume-scheduler"
					assert.True(t, shipped[name] || builtin, "the bundle ships %s, which the cluster-manager binds", name)
				}
			}
		}
	}
}
