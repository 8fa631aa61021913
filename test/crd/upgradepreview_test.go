package crd

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// A preview ends when spec.preview is set to false, which starts the upgrade; it cannot be turned on again.
// acceptUnstoppablePods is the user's to give and take back.
func TestUpgradePreviewCanOnlyBeTurnedOff(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)

	plain := newUpgrade(ns, "plain", "storageos/node:v2.2.0")
	require.NoError(t, testEnv.Client.Create(ctx, plain))
	assert.False(t, plain.Spec.Preview)
	assert.False(t, plain.Spec.AcceptUnstoppablePods)
	plain.Spec.Preview = true
	err := testEnv.Client.Update(ctx, plain)
	require.Error(t, err, "an upgrade created without preview has started")
	assert.Contains(t, err.Error(), "spec.preview:")
	assert.Contains(t, err.Error(), "preview cannot be turned back on")

	u := newUpgrade(ns, "previewed", "storageos/node:v2.2.0")
	u.Spec.Preview = true
	require.NoError(t, testEnv.Client.Create(ctx, u))
	u.Spec.AcceptUnstoppablePods = true
	require.NoError(t, testEnv.Client.Update(ctx, u), "accepting while previewing")
	u.Spec.Preview = false
	require.NoError(t, testEnv.Client.Update(ctx, u), "starting the upgrade")
	u.Spec.AcceptUnstoppablePods = false
	require.NoError(t, testEnv.Client.Update(ctx, u), "taking the acceptance back")
	u.Spec.Preview = true
	err = testEnv.Client.Update(ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "preview cannot be turned back on")
}

// The plan's lists are bounded in the schema as ComputePlan bounds them, so that a plan never makes the upgrade
// too large to store; its summary reads 0 when nothing wrote it.
func TestUpgradePlanIsBoundedAndDefaulted(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	u := newUpgrade(ns, "planned", "storageos/node:v2.2.0")
	require.NoError(t, testEnv.Client.Create(ctx, u))
	u.Status.Phase = storageosv1.UpgradePhasePending
	require.NoError(t, testEnv.Client.Status().Update(ctx, u))
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), u))
	assert.Equal(t, storageosv1.PlanSummary{}, u.Status.Plan.Summary)

	app := storageosv1.PlannedApplication{Kind: storageosv1.WorkloadKindDeployment, Namespace: "shop", Name: "web", Replicas: 1}
	u.Status.Plan.Applications = make([]storageosv1.PlannedApplication, storageosv1.PlanListMax)
	for i := range u.Status.Plan.Applications {
		u.Status.Plan.Applications[i] = app
	}
	u.Status.Plan.Summary.Applications = storageosv1.PlanListMax
	require.NoError(t, testEnv.Client.Status().Update(ctx, u), "PlanListMax entries fit")

	u.Status.Plan.Applications = append(u.Status.Plan.Applications, app)
	err := testEnv.Client.Status().Update(ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status.plan.applications: Too many")

	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), u))
	u.Status.Plan.UnstoppablePods = []storageosv1.UnstoppablePod{{Namespace: "shop", Name: "debug", OwnerKind: "None", Reason: "Unknown"}}
	err = testEnv.Client.Status().Update(ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status.plan.unstoppablePods[0].reason: Unsupported value")
}
