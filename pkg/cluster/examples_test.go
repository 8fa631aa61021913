//go:build !mutation

package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Every example file of the original operator (v2.1.0 deploy/crds/*_cr.yaml), with every commented field filled
// in, is accepted as kubectl apply sends it: strict field validation, on the real API server with our CRDs.
// Dry run: the schema, defaults and CEL rules run, nothing is stored or reconciled.
func TestOriginalExamplesAreAccepted(t *testing.T) {
	ctx := context.Background()
	files, err := filepath.Glob(filepath.Join("testdata", "original-v2.1.0-examples", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 3)
	strict := []client.CreateOption{client.DryRunAll, client.FieldValidation("Strict")}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			obj := readFixtureFile(t, file)[0]
			require.NoError(t, testEnv.Client.Create(ctx, obj.DeepCopy(), strict...))

			// The same file with a misspelt field is refused, so strictness is really on.
			typo := obj.DeepCopy()
			require.NoError(t, unstructured.SetNestedField(typo.Object, "x", "spec", "notAField"))
			err := testEnv.Client.Create(ctx, typo, strict...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "notAField")
		})
	}
}

func readFixtureFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return decodeObjects(t, data)
}
