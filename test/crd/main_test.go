// Package crd proves the storageos.com CRDs against a real kube-apiserver: the seed's samples are accepted and
// defaulted, invalid objects are rejected with errors that name the field, and kubectl prints the seed's columns.
package crd

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

var testEnv *envtest.Environment

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv)
}

// createYAML creates the object a YAML manifest describes in namespace ns and returns it as stored.
func createYAML(ctx context.Context, ns string, manifest []byte) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(manifest, &obj.Object); err != nil {
		return nil, err
	}
	obj.SetNamespace(ns)
	if err := testEnv.Client.Create(ctx, obj); err != nil {
		return nil, err
	}
	return obj, nil
}
