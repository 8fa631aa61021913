package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
)

// The alm-examples are the original operator's deploy/crds examples, in its CSV's order, one per owned kind.
func TestExamplesAreTheOriginals(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	var examples []map[string]any
	require.NoError(t, json.Unmarshal([]byte(bundle.CSV.Annotations["alm-examples"]), &examples))
	var got []string
	for _, e := range examples {
		got = append(got, e["kind"].(string)+"/"+e["metadata"].(map[string]any)["name"].(string))
	}
	assert.Equal(t, []string{"StorageOSCluster/example-storageoscluster", "Job/example-job", "StorageOSUpgrade/example-storageosupgrade",
		"NFSServer/example-nfsserver"}, got)
	assert.Equal(t, map[string]any{"enable": true}, examples[0]["spec"].(map[string]any)["csi"])
	assert.Equal(t, "kube-system", examples[0]["spec"].(map[string]any)["namespace"])
	assert.Equal(t, map[string]any{"resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}}, examples[3]["spec"])
}

// Every kind the CSV owns has its example, so the console's "create" form of each starts from one.
func TestEveryOwnedKindHasAnExample(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	var examples []map[string]any
	require.NoError(t, json.Unmarshal([]byte(bundle.CSV.Annotations["alm-examples"]), &examples))
	var kinds, owned []string
	for _, e := range examples {
		kinds = append(kinds, e["apiVersion"].(string)+"/"+e["kind"].(string))
	}
	for _, d := range bundle.CSV.Spec.CustomResourceDefinitions.Owned {
		group := d.Name[strings.Index(d.Name, ".")+1:]
		owned = append(owned, group+"/"+d.Version+"/"+d.Kind)
	}
	assert.ElementsMatch(t, owned, kinds)
	assert.Contains(t, kinds, "storageos.com/v1/NFSServer")
}

// Every alm-example is what the API server would accept for the bundle's CRDs, checked as it checks a create:
// no field it would prune (the CRDs accept every field of the original's examples), defaults applied, then the
// OpenAPI schema and the CEL rules. Nothing else validates examples against schemas: operator-framework/api only
// checks that each example's kind is owned.
func TestExamplesMatchTheCRDs(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, crd := range bundle.V1CRDs {
		crds[crd.Spec.Group+"/"+crd.Spec.Names.Kind] = crd
	}
	var examples []map[string]any
	require.NoError(t, json.Unmarshal([]byte(bundle.CSV.Annotations["alm-examples"]), &examples))
	require.Len(t, examples, len(crds), "one example per owned CRD")
	for _, obj := range examples {
		apiVersion, kind := obj["apiVersion"].(string), obj["kind"].(string)
		t.Run(kind, func(t *testing.T) {
			group, ver := filepath.Split(apiVersion)
			crd := crds[filepath.Clean(group)+"/"+kind]
			require.NotNil(t, crd, "the bundle owns %s", apiVersion)
			var schema *apiextensionsv1.CustomResourceValidation
			for _, v := range crd.Spec.Versions {
				if v.Name == ver && v.Served {
					schema = v.Schema
				}
			}
			require.NotNil(t, schema, "%s serves %s with a schema", crd.Name, ver)
			for _, e := range validateAgainst(t, schema.OpenAPIV3Schema, obj) {
				t.Error(e)
			}
		})
	}
}

// validateAgainst validates obj as the API server validates a created custom resource.
func validateAgainst(t *testing.T, v1schema *apiextensionsv1.JSONSchemaProps, obj map[string]any) field.ErrorList {
	internal := &apiextensions.JSONSchemaProps{}
	require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1schema, internal, nil))
	structural, err := structuralschema.NewStructural(internal)
	require.NoError(t, err)

	var errs field.ErrorList
	for _, path := range pruning.PruneWithOptions(obj, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Forbidden(field.NewPath(path), "unknown field: the API server would drop it"))
	}
	structuraldefaulting.Default(obj, structural)
	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	require.NoError(t, err)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, validator)...)
	if celValidator := cel.NewValidator(structural, true, celconfig.PerCallLimit); celValidator != nil {
		celErrs, _ := celValidator.Validate(context.Background(), nil, structural, obj, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

// The check has teeth: fields the CRDs do not know, wrong types and broken CEL rules fail it.
func TestExampleValidationRejectsBadExamples(t *testing.T) {
	bundle, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	require.NoError(t, err)
	schemas := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, crd := range bundle.V1CRDs {
		schemas[crd.Spec.Names.Kind] = crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	meta := map[string]any{"name": "x", "namespace": "default"}
	cases := map[string]struct {
		kind string
		spec map[string]any
		want string
	}{
		"unknown field":           {"StorageOSCluster", map[string]any{"secretRefName": "s", "noSuchField": true}, "spec.noSuchField"},
		"unknown nested field":    {"StorageOSCluster", map[string]any{"secretRefName": "s", "csi": map[string]any{"enabled": true}}, "spec.csi.enabled"},
		"wrong type":              {"Job", map[string]any{"image": "i", "labelSelector": map[string]any{"app": "x"}}, "spec.labelSelector: Invalid value"},
		"missing required":        {"StorageOSUpgrade", map[string]any{}, "spec.newImage: Required value"},
		"CEL rule":                {"StorageOSCluster", map[string]any{"secretRefName": "s", "ingress": map[string]any{"tls": true}}, "ingress.tls requires ingress.enable: true"},
		"CEL rule on a field":     {"Job", map[string]any{"image": "i", "hostPath": "var", "mountPath": "/var"}, "spec.hostPath: Invalid value"},
		"NFSServer enum":          {"NFSServer", map[string]any{"persistentVolumeReclaimPolicy": "Recycle"}, "spec.persistentVolumeReclaimPolicy: Unsupported value"},
		"NFSServer quantity":      {"NFSServer", map[string]any{"resources": map[string]any{"requests": map[string]any{"storage": "-1Gi"}}}, "spec.resources.requests.storage"},
		"NFSServer CEL rule":      {"NFSServer", map[string]any{"export": map[string]any{"server": map[string]any{"accessMode": "rw"}}}, "export.server.accessMode must be ReadWrite, ReadOnly or None"},
		"NFSServer unknown field": {"NFSServer", map[string]any{"export": map[string]any{"squash": "all"}}, "spec.export.squash"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, schemas, c.kind)
			obj := map[string]any{"apiVersion": "storageos.com/v1", "kind": c.kind, "metadata": meta, "spec": c.spec}
			assert.Contains(t, fmt.Sprint(validateAgainst(t, schemas[c.kind], obj)), c.want)
		})
	}
}
