package crd

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
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
	assert.Contains(t, err.Error(), "spec.preview can only be turned off")

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
	assert.Contains(t, err.Error(), "spec.preview can only be turned off")
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

	// The largest plan there can be: every list full, every name as long as Kubernetes allows, every entry
	// with all the claims it may name. It fits in an object.
	long := func(c byte) string { return strings.Repeat(string(c), 253) }
	namespace := strings.Repeat("n", 63)
	claims := []string{long('a'), long('b'), long('c'), long('d')}[:storageosv1.PlanClaimsMax]
	app := storageosv1.PlannedApplication{Kind: storageosv1.WorkloadKindDeployment, Namespace: namespace, Name: long('w'), Replicas: 1, Claims: claims}
	pod := storageosv1.UnstoppablePod{Namespace: namespace, Name: long('p'), OwnerKind: strings.Repeat("K", 63), OwnerName: long('o'),
		Reason: storageosv1.UnstoppableOtherOwner, Claims: claims}
	hpa := storageosv1.PlannedAutoscaler{Namespace: namespace, Name: long('h'), TargetKind: storageosv1.WorkloadKindStatefulSet,
		TargetName: long('t'), MinReplicas: 0, Handling: storageosv1.AutoscalerHandlingBlocks}
	u.Status.Plan.Applications = slices.Repeat([]storageosv1.PlannedApplication{app}, storageosv1.PlanListMax)
	u.Status.Plan.UnstoppablePods = slices.Repeat([]storageosv1.UnstoppablePod{pod}, storageosv1.PlanListMax)
	u.Status.Plan.Autoscalers = slices.Repeat([]storageosv1.PlannedAutoscaler{hpa}, storageosv1.PlanListMax)
	u.Status.Plan.Summary = storageosv1.PlanSummary{Applications: storageosv1.PlanListMax, UnstoppablePods: storageosv1.PlanListMax,
		Autoscalers: storageosv1.PlanListMax, BlockingAutoscalers: storageosv1.PlanListMax}
	require.NoError(t, testEnv.Client.Status().Update(ctx, u), "the largest plan fits")
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), u))
	size, err := json.Marshal(u)
	require.NoError(t, err)
	t.Logf("the largest plan: an upgrade of %d kB", len(size)/1024)

	u.Status.Plan.Applications = append(u.Status.Plan.Applications, app)
	err = testEnv.Client.Status().Update(ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status.plan.applications: Too many")

	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(u), u))
	u.Status.Plan = storageosv1.UpgradePlan{UnstoppablePods: []storageosv1.UnstoppablePod{{Namespace: "shop", Name: "debug", OwnerKind: "None", Reason: "Unknown"}}}
	err = testEnv.Client.Status().Update(ctx, u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status.plan.unstoppablePods[0].reason: Unsupported value")
}
