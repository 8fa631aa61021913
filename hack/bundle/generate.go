package main

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/pkg/cluster/desired"
)

// icon is the operator's icon in consoles: stacked disks.
//
//go:embed icon.svg
var icon []byte

// The package is the original operator's: storageos/cluster-operator published package storageos, channel
// stable, with CSVs storageosoperator.v1.0.0 to v2.4.2. A Subscription names its package, so only under that name
// can an installation of the original upgrade to this operator.
const (
	packageName = "storageos"
	// csvNamePrefix + version names the ClusterServiceVersion, as the original named every one of its CSVs.
	// OLM's convention is <package>.v<version>, but OLM only needs bundle names unique within the package;
	// staying in the original's line keeps one name pattern along the whole upgrade history of the package, so
	// `kubectl get csv` and a Subscription's installedCSV read storageosoperator.v2.1.0, then
	// storageosoperator.v2.5.0.
	csvNamePrefix = "storageosoperator.v"
	// skipRangeFloor: the releases before it ran the StorageOS v1 data plane, which no operator upgrade can
	// turn into v2 in place; olm.skipRange ">=2.0.0 <version" lets every original 2.x release (2.0.0 to 2.4.2)
	// and every earlier release of ours upgrade straight to this one.
	skipRangeFloor = "2.0.0"
	// Channels of the package: stable (the original's only channel, and the default) and fast.
	channels       = "stable,fast"
	defaultChannel = "stable"
	// operatorImage is the image config/manager names; the bundle replaces it with the release's.
	operatorImage = "storageos/cluster-operator:latest"
	// olmServiceSuffix: OLM creates a Service <deployment>-service for a webhook and issues its certificate
	// for that name.
	olmServiceSuffix = "-service"
	minKubeVersion   = "1.30.0"
)

// relatedImages are the operand images the cluster-manager deploys by default, by their RELATED_IMAGE_*
// variable, so a disconnected install can mirror and pin them.
var relatedImages = map[string]string{
	desired.EnvNodeImage:                   desired.DefaultNodeImage,
	desired.EnvInitImage:                   desired.DefaultInitImage,
	desired.EnvCSINodeDriverRegistrarImage: desired.DefaultCSINodeDriverRegistrarImage,
	desired.EnvCSIExternalProvisionerImage: desired.DefaultCSIExternalProvisionerImage,
	desired.EnvCSIExternalAttacherImage:    desired.DefaultCSIExternalAttacherV3Image,
	desired.EnvCSIExternalResizerImage:     desired.DefaultCSIExternalResizerImage,
	desired.EnvCSILivenessProbeImage:       desired.DefaultCSILivenessProbeImage,
}

// examples are the alm-examples, one per owned kind: the original operator's deploy/crds examples, so the
// console's "create" forms start where its users know them. config/samples stay the examples for kubectl.
//
//go:embed examples/*.yaml
var exampleFS embed.FS

// exampleFiles are the alm-examples in the original CSV's order: NFSServer last, as the original listed it.
var exampleFiles = []string{"storageos_v1_storageoscluster_cr.yaml", "storageos_v1_job_cr.yaml", "storageos_v1_storageosupgrade_cr.yaml",
	"storageos_v1_nfsserver_cr.yaml"}

// Release says which release the bundle is and which one it replaces.
type Release struct {
	// Version is the operator's version (semver), e.g. 2.5.0.
	Version string
	// Image is the operator image the Deployments run.
	Image string
	// Replaces is the CSV this release replaces in the channel: the previous release, which need not be in the
	// catalog (OLM upgrades an installed CSV by name, and the catalog's last entry may replace a bundle it
	// does not hold).
	Replaces string
}

// skipRange is the olm.skipRange of a release: every 2.x release before it.
func skipRange(ver string) string {
	return ">=" + skipRangeFloor + " <" + ver
}

// Generate renders config/manifests and returns the bundle's files, by path relative to bundle/.
func Generate(root string, rel Release) (map[string][]byte, error) {
	ver, image := rel.Version, rel.Image
	parsed, err := semver.Parse(ver)
	if err != nil {
		return nil, fmt.Errorf("VERSION %q: %w", ver, err)
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "manifests"))
	if err != nil {
		return nil, err
	}
	in := inputs{}
	for _, r := range m.Resources() {
		if err := in.add(r); err != nil {
			return nil, err
		}
	}

	files := map[string][]byte{}
	var owned []v1alpha1.CRDDescription
	for _, crd := range in.crds {
		data, err := yaml.Marshal(crd)
		if err != nil {
			return nil, err
		}
		files["manifests/"+crd.Spec.Group+"_"+crd.Spec.Names.Plural+".yaml"] = data
		owned = append(owned, crdDescription(crd))
	}
	csv, err := in.csv(version.OperatorVersion{Version: parsed}, image)
	if err != nil {
		return nil, err
	}
	csv.Spec.Replaces = rel.Replaces
	csv.Annotations[v1alpha1.SkipRangeAnnotationKey] = skipRange(parsed.String())
	for _, obj := range in.extra {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		files["manifests/"+manifestName(obj)] = data
	}
	csv.Spec.CustomResourceDefinitions.Owned = owned
	data, err := yaml.Marshal(csv)
	if err != nil {
		return nil, err
	}
	files["manifests/"+packageName+".clusterserviceversion.yaml"] = data
	files["metadata/annotations.yaml"] = []byte(annotations)
	files["tests/scorecard/config.yaml"] = []byte(scorecardConfig)
	files["../bundle.Dockerfile"] = []byte(dockerfile)
	return files, nil
}

// inputs sorts the rendered install into what the CSV describes and what ships beside it.
type inputs struct {
	crds         []*apiextensionsv1.CustomResourceDefinition
	deployments  []*appsv1.Deployment
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role
	bindings     []binding
	webhook      *admissionregistrationv1.MutatingWebhookConfiguration
	// extra are objects the bundle ships as they are (metrics Services, the metrics reader role).
	extra []map[string]any
}

type binding struct {
	role, kind, account string
}

func decode[T any](r *resource.Resource) (*T, error) {
	data, err := r.AsYAML()
	if err != nil {
		return nil, err
	}
	obj := new(T)
	return obj, yaml.UnmarshalStrict(data, obj)
}

func (in *inputs) add(r *resource.Resource) error {
	if in.clusterRoles == nil {
		in.clusterRoles, in.roles = map[string]*rbacv1.ClusterRole{}, map[string]*rbacv1.Role{}
	}
	var err error
	switch r.GetKind() {
	case "CustomResourceDefinition":
		var crd *apiextensionsv1.CustomResourceDefinition
		if crd, err = decode[apiextensionsv1.CustomResourceDefinition](r); err == nil {
			in.crds = append(in.crds, crd)
		}
	case "Deployment":
		var d *appsv1.Deployment
		if d, err = decode[appsv1.Deployment](r); err == nil {
			in.deployments = append(in.deployments, d)
		}
	case "ClusterRole":
		var role *rbacv1.ClusterRole
		if role, err = decode[rbacv1.ClusterRole](r); err == nil {
			in.clusterRoles[role.Name] = role
		}
	case "Role":
		var role *rbacv1.Role
		if role, err = decode[rbacv1.Role](r); err == nil {
			in.roles[role.Name] = role
		}
	case "ClusterRoleBinding":
		var b *rbacv1.ClusterRoleBinding
		if b, err = decode[rbacv1.ClusterRoleBinding](r); err == nil {
			for _, s := range b.Subjects {
				in.bindings = append(in.bindings, binding{b.RoleRef.Name, "ClusterRole", s.Name})
			}
		}
	case "RoleBinding":
		var b *rbacv1.RoleBinding
		if b, err = decode[rbacv1.RoleBinding](r); err == nil {
			for _, s := range b.Subjects {
				in.bindings = append(in.bindings, binding{b.RoleRef.Name, "Role", s.Name})
			}
		}
	case "MutatingWebhookConfiguration":
		in.webhook, err = decode[admissionregistrationv1.MutatingWebhookConfiguration](r)
	case "Service":
		// OLM creates the webhook's Service itself; the metrics Services ship as they are.
		if !strings.HasSuffix(r.GetName(), "-metrics") {
			return nil
		}
		var obj map[string]any
		if obj, err = r.Map(); err == nil {
			in.extra = append(in.extra, obj)
		}
	case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		// A registry+v1 bundle cannot carry admission policies; the cluster-manager ensures the same objects
		// (pkg/admission) when it starts.
		return nil
	case "Namespace", "ServiceAccount", "Secret", "StorageOSCluster", "StorageOSUpgrade", "Job", "NFSServer":
		// OLM installs into the namespace the user picks and creates the ServiceAccounts of the install
		// strategy; the sample Secret holds example credentials, never shipped; the alm-examples are the
		// original's (examples/), not config/samples.
	default:
		return fmt.Errorf("config/manifests holds a %s (%s) the bundle does not know how to ship", r.GetKind(), r.GetName())
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
	}
	return nil
}

func (in *inputs) boundTo(role string) []string {
	var out []string
	for _, b := range in.bindings {
		if b.role == role {
			out = append(out, b.account)
		}
	}
	return out
}

// csv is the ClusterServiceVersion: the four Deployments with each ServiceAccount's permissions, the webhook,
// the examples and the images.
func (in *inputs) csv(ver version.OperatorVersion, image string) (*v1alpha1.ClusterServiceVersion, error) {
	examples, err := almExamples()
	if err != nil {
		return nil, err
	}
	webhooks, err := in.webhookDefinitions()
	if err != nil {
		return nil, err
	}
	strategy := v1alpha1.StrategyDetailsDeployment{}
	perAccount := map[string]bool{}
	webhookAccount := ""
	for _, d := range in.deployments {
		spec := d.Spec.DeepCopy()
		pod := &spec.Template.Spec
		for i := range pod.Containers {
			if pod.Containers[i].Image == operatorImage {
				pod.Containers[i].Image = image
			}
		}
		if d.Name == "storageos-cluster-manager" {
			for _, env := range sortedKeys(relatedImages) {
				pod.Containers[0].Env = append(pod.Containers[0].Env, corev1.EnvVar{Name: env, Value: relatedImages[env]})
			}
		}
		if d.Name == in.webhookDeployment() {
			olmWebhookPod(d.Name, pod)
			webhookAccount = pod.ServiceAccountName
		}
		strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, v1alpha1.StrategyDeploymentSpec{Name: d.Name, Label: d.Labels, Spec: *spec})
		perAccount[pod.ServiceAccountName] = true
	}
	for _, account := range sortedKeys(perAccount) {
		var clusterRules, rules []rbacv1.PolicyRule
		for _, b := range in.bindings {
			if b.account != account {
				continue
			}
			if b.kind == "ClusterRole" {
				if role := in.clusterRoles[b.role]; role != nil {
					clusterRules = append(clusterRules, role.Rules...)
				}
			} else if role := in.roles[b.role]; role != nil {
				rules = append(rules, role.Rules...)
			}
		}
		if account == webhookAccount {
			// Under OLM the webhook manages no certificate: it needs neither its Secret nor its configuration.
			clusterRules, rules = withoutCertificateRules(clusterRules), withoutCertificateRules(rules)
		}
		if len(clusterRules) > 0 {
			strategy.ClusterPermissions = append(strategy.ClusterPermissions, v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: account, Rules: clusterRules})
		}
		if len(rules) > 0 {
			strategy.Permissions = append(strategy.Permissions, v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: account, Rules: rules})
		}
	}
	// Roles no binding in the install grants (the metrics reader, for Prometheus) ship as they are.
	for _, name := range sortedKeys(in.clusterRoles) {
		if len(in.boundTo(name)) == 0 {
			role := in.clusterRoles[name]
			in.extra = append(in.extra, map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
				"metadata": map[string]any{"name": role.Name, "labels": role.Labels}, "rules": role.Rules})
		}
	}

	var related []v1alpha1.RelatedImage
	related = append(related, v1alpha1.RelatedImage{Name: "storageos-cluster-operator", Image: image})
	for _, env := range sortedKeys(relatedImages) {
		related = append(related, v1alpha1.RelatedImage{Name: strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(env, "RELATED_IMAGE_"), "_", "-")), Image: relatedImages[env]})
	}

	csv := &v1alpha1.ClusterServiceVersion{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.ClusterServiceVersionKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: csvNamePrefix + ver.String(),
			Annotations: map[string]string{
				"alm-examples":   examples,
				"capabilities":   "Full Lifecycle",
				"categories":     "Storage",
				"containerImage": image,
				"description":    "Deploys, configures, upgrades and cleans up a StorageOS storage cluster.",
				"repository":     "https://github.com/storageos/cluster-operator",
				"support":        "StorageOS",
				"operators.openshift.io/infrastructure-features": `["disconnected"]`,
				"operatorframework.io/suggested-namespace":       "storageos-operator",
			},
		},
		Spec: v1alpha1.ClusterServiceVersionSpec{
			DisplayName:    "StorageOS",
			Icon:           []v1alpha1.Icon{{Data: base64.StdEncoding.EncodeToString(icon), MediaType: "image/svg+xml"}},
			Description:    description,
			Version:        ver,
			Maturity:       "stable",
			Keywords:       []string{"storage", "csi", "block storage", "persistent volumes"},
			Provider:       v1alpha1.AppLink{Name: "StorageOS", URL: "https://storageos.com"},
			Maintainers:    []v1alpha1.Maintainer{{Name: "StorageOS", Email: "support@storageos.com"}},
			Links:          []v1alpha1.AppLink{{Name: "Source", URL: "https://github.com/storageos/cluster-operator"}},
			MinKubeVersion: minKubeVersion,
			// The managers watch every namespace: a StorageOSCluster, its applications and upgrades may be
			// anywhere.
			InstallModes: []v1alpha1.InstallMode{
				{Type: v1alpha1.InstallModeTypeOwnNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeSingleNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeMultiNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeAllNamespaces, Supported: true},
			},
			InstallStrategy:    v1alpha1.NamedInstallStrategy{StrategyName: v1alpha1.InstallStrategyNameDeployment, StrategySpec: strategy},
			RelatedImages:      related,
			WebhookDefinitions: webhooks,
		},
	}
	return csv, nil
}

// almExamples is the alm-examples annotation: the examples as a JSON list, without their comments.
func almExamples() (string, error) {
	var list []map[string]any
	for _, name := range exampleFiles {
		data, err := exampleFS.ReadFile("examples/" + name)
		if err != nil {
			return "", err
		}
		var obj map[string]any
		if err := yaml.UnmarshalStrict(data, &obj); err != nil {
			return "", fmt.Errorf("examples/%s: %w", name, err)
		}
		list = append(list, obj)
	}
	out, err := json.MarshalIndent(list, "", "  ")
	return string(out), err
}

// withoutCertificateRules drops the rules self-managed certificates need: Secrets and the webhook configuration.
func withoutCertificateRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		certificates := false
		for _, res := range r.Resources {
			certificates = certificates || res == "secrets" || res == "mutatingwebhookconfigurations"
		}
		if !certificates {
			out = append(out, r)
		}
	}
	return out
}

// olmWebhookPod adapts the webhook's pod to OLM, which issues its certificate, mounts it at the webhook's
// certificate directory and creates the Service <deployment>-service: the webhook serves that certificate
// instead of managing its own.
func olmWebhookPod(deployment string, pod *corev1.PodSpec) {
	c := &pod.Containers[0]
	c.Args = append(c.Args, "--disable-cert-rotation", "--webhook-service-name="+deployment+olmServiceSuffix)
	c.VolumeMounts = nil
	pod.Volumes = nil
}

func (in *inputs) webhookDeployment() string {
	for _, d := range in.deployments {
		for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
			if p.Name == "webhook" {
				return d.Name
			}
		}
	}
	return ""
}

// webhookDefinitions turn the MutatingWebhookConfiguration into OLM's description of it, with every field a
// description can carry. Two cannot be carried: OLM sets namespaceSelector itself (from the OperatorGroup;
// none for AllNamespaces), and a description has no matchConditions. Under OLM the API server therefore asks the
// webhook about every new pod; what config/webhook scopes away must then be left alone by the handler itself,
// which handlerScoping records, rule by rule. A rule added to config/webhook that is not there fails the
// bundle, rather than the OLM install silently reaching pods the kustomize one does not.
func (in *inputs) webhookDefinitions() ([]v1alpha1.WebhookDescription, error) {
	if in.webhook == nil {
		return nil, nil
	}
	var out []v1alpha1.WebhookDescription
	deployment := in.webhookDeployment()
	for _, w := range in.webhook.Webhooks {
		if err := checkHandlerScoping(w); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
		}
		out = append(out, v1alpha1.WebhookDescription{
			GenerateName:            w.Name,
			Type:                    v1alpha1.MutatingAdmissionWebhook,
			DeploymentName:          deployment,
			ContainerPort:           *w.ClientConfig.Service.Port,
			TargetPort:              &intstr.IntOrString{Type: intstr.String, StrVal: "webhook"},
			Rules:                   w.Rules,
			FailurePolicy:           w.FailurePolicy,
			MatchPolicy:             w.MatchPolicy,
			SideEffects:             w.SideEffects,
			TimeoutSeconds:          w.TimeoutSeconds,
			AdmissionReviewVersions: w.AdmissionReviewVersions,
			ReinvocationPolicy:      w.ReinvocationPolicy,
			WebhookPath:             w.ClientConfig.Service.Path,
			ObjectSelector:          w.ObjectSelector,
		})
	}
	return out, nil
}

// handlerScoping are the namespaceSelector requirements and matchConditions of config/webhook that an OLM
// webhook description cannot carry, each with how the scheduler webhook's handler (pkg/schedulerwebhook) gives
// the same answer without them: a pod they would keep from the webhook is admitted unchanged by it. A
// requirement is written "key operator values", a matchCondition "name: expression" (whitespace collapsed), so
// that changing one in config/webhook means reviewing it here.
var handlerScoping = map[string]string{
	"storageos.com/scheduler-webhook NotIn [disabled]": "the handler skips pods in namespaces so labelled " +
		"(NamespaceOptOutLabel), from its cache of namespaces",
	"kubernetes.io/metadata.name NotIn [storageos-operator]": "the operator's namespace holds the operator's " +
		"pods, which mount no claim: the handler leaves them alone as it does every pod without a StorageOS volume",
	"has-claim-volume: has(object.spec.volumes) && object.spec.volumes.exists(v, has(v.persistentVolumeClaim) || " +
		"has(v.ephemeral))": "the handler changes only pods with a StorageOS claim or generic ephemeral volume",
	"not-opted-out: !has(object.metadata.annotations) || !('storageos.com/scheduler' in object.metadata.annotations) || " +
		"object.metadata.annotations['storageos.com/scheduler'] != 'false'": "the handler skips pods annotated " +
		"storageos.com/scheduler: \"false\" (OptOutAnnotation)",
}

// checkHandlerScoping fails unless handlerScoping covers every namespaceSelector requirement and matchCondition
// of w. Match labels are requirements too (key In [value]).
func checkHandlerScoping(w admissionregistrationv1.MutatingWebhook) error {
	var rules []string
	if sel := w.NamespaceSelector; sel != nil {
		for _, k := range sortedKeys(sel.MatchLabels) {
			rules = append(rules, fmt.Sprintf("%s In [%s]", k, sel.MatchLabels[k]))
		}
		for _, r := range sel.MatchExpressions {
			rules = append(rules, fmt.Sprintf("%s %s [%s]", r.Key, r.Operator, strings.Join(r.Values, " ")))
		}
	}
	for _, c := range w.MatchConditions {
		rules = append(rules, c.Name+": "+strings.Join(strings.Fields(c.Expression), " "))
	}
	var missing []string
	for _, r := range rules {
		if _, ok := handlerScoping[r]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("an OLM webhook definition cannot carry %q, and the handler is not known to check it "+
			"(handlerScoping): make the handler check it and add it there", missing)
	}
	return nil
}

// crdDescription describes an owned CRD for the console, from its schema's descriptions.
func crdDescription(crd *apiextensionsv1.CustomResourceDefinition) v1alpha1.CRDDescription {
	v := crd.Spec.Versions[0]
	d := v1alpha1.CRDDescription{Name: crd.Name, Version: v.Name, Kind: crd.Spec.Names.Kind, DisplayName: displayNames[crd.Spec.Names.Kind]}
	if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
		d.Description = v.Schema.OpenAPIV3Schema.Description
		props := v.Schema.OpenAPIV3Schema.Properties
		for _, path := range sortedKeys(props["spec"].Properties) {
			d.SpecDescriptors = append(d.SpecDescriptors, v1alpha1.SpecDescriptor{Path: path, DisplayName: path,
				Description: firstSentence(props["spec"].Properties[path].Description)})
		}
		for _, path := range sortedKeys(props["status"].Properties) {
			desc := v1alpha1.StatusDescriptor{Path: path, DisplayName: path, Description: firstSentence(props["status"].Properties[path].Description)}
			if path == "conditions" {
				desc.XDescriptors = []string{"urn:alm:descriptor:io.kubernetes.conditions"}
			}
			d.StatusDescriptors = append(d.StatusDescriptors, desc)
		}
	}
	d.Resources = ownedResources[crd.Spec.Names.Kind]
	return d
}

// displayNames are the kinds' names in consoles; NFSServer keeps the original CSV's "NFS Server".
var displayNames = map[string]string{"StorageOSCluster": "StorageOS Cluster", "StorageOSUpgrade": "StorageOS Upgrade", "Job": "StorageOS Job",
	"NFSServer": "NFS Server"}

// ownedResources are the kinds the operator creates for each custom resource.
var ownedResources = map[string][]v1alpha1.APIResourceReference{
	"StorageOSCluster": {{Name: "", Kind: "DaemonSet", Version: "v1"}, {Kind: "StatefulSet", Version: "v1"}, {Kind: "Deployment", Version: "v1"},
		{Kind: "Service", Version: "v1"}, {Kind: "ConfigMap", Version: "v1"}, {Kind: "Secret", Version: "v1"}, {Kind: "StorageClass", Version: "v1"},
		{Kind: "CSIDriver", Version: "v1"}, {Kind: "Ingress", Version: "v1"}},
	"StorageOSUpgrade": {{Kind: "Job", Version: "v1"}},
	"Job":              {{Kind: "DaemonSet", Version: "v1"}},
	// The server's StatefulSet, its NFS and metrics Services, Ganesha's ConfigMap, the pod's ServiceAccount, the
	// claim it exports (unless the spec names one) and, on OpenShift, the binding to the SCC role.
	"NFSServer": {{Kind: "StatefulSet", Version: "v1"}, {Kind: "Service", Version: "v1"}, {Kind: "ConfigMap", Version: "v1"},
		{Kind: "ServiceAccount", Version: "v1"}, {Kind: "PersistentVolumeClaim", Version: "v1"}, {Kind: "RoleBinding", Version: "v1"}},
}

// firstSentence is a field's description up to its first full stop. The period of an abbreviation ends no
// sentence: cutting "the NFS port, e.g. 10.96.0.12:2049" after "e.g." would leave a description that trails off.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for from := 0; ; {
		i := strings.Index(s[from:], ". ")
		if i < 0 {
			return s
		}
		end := from + i + 1
		if !endsWithAbbreviation(s[:end]) {
			return s[:end]
		}
		from = end
	}
}

// abbreviations are the ones the API's descriptions use mid-sentence.
var abbreviations = []string{"e.g.", "i.e."}

// endsWithAbbreviation is whether s ends with a whole abbreviation: "(e.g." does, "knee.g." does not.
func endsWithAbbreviation(s string) bool {
	for _, a := range abbreviations {
		if before, ok := strings.CutSuffix(s, a); ok {
			if r, _ := utf8.DecodeLastRuneInString(before); before == "" || !unicode.IsLetter(r) {
				return true
			}
		}
	}
	return false
}

func manifestName(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	kind, _ := obj["kind"].(string)
	name, _ := meta["name"].(string)
	// Role names carry colons (storageos:init), which some file systems and archive tools refuse.
	return strings.ReplaceAll(name, ":", "-") + "_" + strings.ToLower(kind) + ".yaml"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// write replaces bundle/ under root with files.
func write(root string, files map[string][]byte) error {
	dir := filepath.Join(root, "bundle")
	return writeFiles(dir, files, filepath.Join(dir, "manifests"), filepath.Join(dir, "metadata"), filepath.Join(dir, "tests"))
}

// writeFiles removes the stale directories, then writes files by path relative to dir.
func writeFiles(dir string, files map[string][]byte, stale ...string) error {
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

const description = `The StorageOS cluster operator deploys, configures, upgrades and cleans up a StorageOS storage cluster.

* **StorageOSCluster** deploys StorageOS on the selected nodes: the node DaemonSet, the CSI helper, the API
  Service, the scheduler extender and a StorageClass. Spec edits converge; storage pods restart only on purpose.
* **StorageOSUpgrade** runs an offline upgrade: pre-pulls the new image, pauses the cluster in maintenance mode,
  scales StorageOS-backed applications down, rolls the node image, scales them back. It survives restarts.
* **Job** runs a task once on every selected node (e.g. cleaning up a node's StorageOS data).
* **NFSServer** serves a StorageOS volume over NFS: StorageOS creates one for each ReadWriteMany claim, and the
  operator runs an NFS-Ganesha StatefulSet exporting it.

A mutating webhook sends pods using StorageOS volumes to the StorageOS scheduler; it never blocks pod creation.`

const annotations = `annotations:
  operators.operatorframework.io.bundle.mediatype.v1: registry+v1
  operators.operatorframework.io.bundle.manifests.v1: manifests/
  operators.operatorframework.io.bundle.metadata.v1: metadata/
  operators.operatorframework.io.bundle.package.v1: ` + packageName + `
  operators.operatorframework.io.bundle.channels.v1: ` + channels + `
  operators.operatorframework.io.bundle.channel.default.v1: ` + defaultChannel + `
  operators.operatorframework.io.test.mediatype.v1: scorecard+v1
  operators.operatorframework.io.test.config.v1: tests/scorecard/
`

const scorecardConfig = `apiVersion: scorecard.operatorframework.io/v1alpha3
kind: Configuration
metadata:
  name: config
stages:
- parallel: true
  tests:
  - entrypoint: [scorecard-test, basic-check-spec]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: basic, test: basic-check-spec-test}
  - entrypoint: [scorecard-test, olm-bundle-validation]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: olm, test: olm-bundle-validation-test}
  - entrypoint: [scorecard-test, olm-crds-have-validation]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: olm, test: olm-crds-have-validation-test}
  - entrypoint: [scorecard-test, olm-crds-have-resources]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: olm, test: olm-crds-have-resources-test}
  - entrypoint: [scorecard-test, olm-spec-descriptors]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: olm, test: olm-spec-descriptors-test}
  - entrypoint: [scorecard-test, olm-status-descriptors]
    image: quay.io/operator-framework/scorecard-test:v1.39.0
    labels: {suite: olm, test: olm-status-descriptors-test}
`

// dockerfile builds the bundle image; its labels repeat metadata/annotations.yaml, as OLM requires.
const dockerfile = `FROM scratch
LABEL operators.operatorframework.io.bundle.mediatype.v1=registry+v1
LABEL operators.operatorframework.io.bundle.manifests.v1=manifests/
LABEL operators.operatorframework.io.bundle.metadata.v1=metadata/
LABEL operators.operatorframework.io.bundle.package.v1=` + packageName + `
LABEL operators.operatorframework.io.bundle.channels.v1=` + channels + `
LABEL operators.operatorframework.io.bundle.channel.default.v1=` + defaultChannel + `
LABEL operators.operatorframework.io.test.mediatype.v1=scorecard+v1
LABEL operators.operatorframework.io.test.config.v1=tests/scorecard/
COPY bundle/manifests /manifests/
COPY bundle/metadata /metadata/
COPY bundle/tests/scorecard /tests/scorecard/
`
