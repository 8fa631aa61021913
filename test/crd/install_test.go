package crd

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// `make install` is `kubectl apply --server-side -k config/crd` with the kubectl built from Go modules.
func TestInstallAppliesTheCRDKustomization(t *testing.T) {
	out, err := testEnv.Kubectl(context.Background(), "apply", "--server-side", "-k", filepath.Join(testEnv.RootDir, "config", "crd"))
	require.NoError(t, err)
	for _, crd := range []string{"storageosclusters.storageos.com", "storageosupgrades.storageos.com", "jobs.storageos.com"} {
		assert.Contains(t, out, "customresourcedefinition.apiextensions.k8s.io/"+crd+" serverside-applied")
	}
}

// The generated per-binary RBAC must be accepted by the API server as it stands.
func TestRBACKustomizationIsAccepted(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "storageos-operator"}}
	if err := testEnv.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(t, err)
	}
	out, err := testEnv.Kubectl(context.Background(), "apply", "--server-side", "--dry-run=server", "-k", filepath.Join(testEnv.RootDir, "config", "rbac"))
	require.NoError(t, err)
	for _, b := range []string{"cluster-manager", "upgrade-manager", "job-manager", "scheduler-webhook"} {
		assert.Contains(t, out, "clusterrole.rbac.authorization.k8s.io/storageos-"+b+" serverside-applied")
		assert.Contains(t, out, "serviceaccount/storageos-"+b+" serverside-applied")
	}
	assert.Contains(t, out, "role.rbac.authorization.k8s.io/storageos-cluster-manager-leader-election serverside-applied")
	assert.NotContains(t, out, "storageos-scheduler-webhook-leader-election", "the webhook runs no leader election")
	assert.Contains(t, out, "role.rbac.authorization.k8s.io/storageos-scheduler-webhook serverside-applied", "the webhook's certificate Secret Role")
	assert.Contains(t, out, "rolebinding.rbac.authorization.k8s.io/storageos-scheduler-webhook serverside-applied")
	assert.Contains(t, out, "clusterrole.rbac.authorization.k8s.io/storageos-metrics-reader serverside-applied")
}
