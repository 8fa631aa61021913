//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// canaries are Secret values no log, event or status may ever show: the StorageOS API password (rotated to a
// unique value, since the sample's is the word "storageos", which is everywhere) and a key of the API Secret
// that StorageOS does not use, which must not even be copied.
var canaries struct{ password, unused string }

func canary(what string) string {
	buf := make([]byte, 8)
	_, _ = rand.Read(buf)
	return "e2e-" + what + "-" + hex.EncodeToString(buf)
}

// The administrator changes the StorageOS password and updates the Secret: the operator logs in with the new one
// (the cluster stays Ready), copies it to the node's Secret, and copies nothing it does not use.
func testPasswordRotation(t *testing.T) {
	ctx := context.Background()
	canaries.password, canaries.unused = canary("password"), canary("unused")
	c, err := sampleCluster(ctx)
	require.NoError(t, err)
	secret := &corev1.Secret{}
	require.NoError(t, env.Client.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.SecretRefNamespace), Name: string(c.Spec.SecretRefName)}, secret))
	username := string(secret.Data["apiUsername"])
	// Old sessions expire with the password change, so the operator's next call must log in with the new one.
	env.Simulator.SetCredentials(storageos.Credentials{Username: username, Password: canaries.password})
	env.Simulator.ExpireSessions()
	logins := env.Simulator.Requests("POST /v2/auth/login")
	patch, err := json.Marshal(map[string]any{"stringData": map[string]string{"apiPassword": canaries.password, "unrelatedToken": canaries.unused}})
	require.NoError(t, err)
	require.NoError(t, env.Client.Patch(ctx, secret, client.RawPatch(types.MergePatchType, patch)))

	eventually(t, timeout, "the new password copied for the nodes and accepted by StorageOS", func(ctx context.Context) error {
		copied := &corev1.Secret{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.Namespace), Name: desired.InitSecretName}, copied); err != nil {
			return err
		}
		if string(copied.Data["password"]) != canaries.password {
			return fmt.Errorf("%s not updated", desired.InitSecretName)
		}
		if env.Simulator.Requests("POST /v2/auth/login") == logins {
			return fmt.Errorf("no login since the password changed")
		}
		fresh, err := sampleCluster(ctx)
		if err != nil {
			return err
		}
		if cond := condition(fresh.Status.Conditions, "APIReady"); cond == nil || cond.Status != "True" {
			return fmt.Errorf("APIReady %+v", cond)
		}
		return nil
	})
	var secrets corev1.SecretList
	require.NoError(t, env.Client.List(ctx, &secrets))
	for _, s := range secrets.Items {
		if s.Name == secret.Name && s.Namespace == secret.Namespace {
			continue
		}
		for k, v := range s.Data {
			assert.NotContains(t, string(v), canaries.unused, "Secret %s/%s key %s holds a value StorageOS does not use", s.Namespace, s.Name, k)
		}
	}
}

// Every manager's log, every event and every storageos.com object, after the whole life of the cluster and its
// faults: no Secret value, plain or base64.
func testNoSecretValueRevealed(t *testing.T) {
	ctx := context.Background()
	require.NotEmpty(t, canaries.password, "the password rotation step ran")
	var needles []string
	for _, v := range []string{canaries.password, canaries.unused} {
		needles = append(needles, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	scanned := map[string]int{}
	check := func(where string, data []byte) {
		scanned[strings.SplitN(where, ":", 2)[0]] += len(data)
		for _, n := range needles {
			assert.False(t, bytes.Contains(data, []byte(n)), "%s reveals a Secret value", where)
		}
	}

	logs, err := filepath.Glob(filepath.Join(env.Logs(), "*.log"))
	require.NoError(t, err)
	managers := 0
	for _, path := range logs {
		name := filepath.Base(path)
		if !strings.HasPrefix(name, "cluster-manager-") && !strings.HasPrefix(name, "upgrade-manager-") &&
			!strings.HasPrefix(name, "job-manager-") && !strings.HasPrefix(name, "scheduler-webhook-") {
			continue
		}
		managers++
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		check("logs: "+name, data)
	}
	assert.GreaterOrEqual(t, managers, 4*replicas, "a log per manager process")

	var events corev1.EventList
	require.NoError(t, env.Client.List(ctx, &events))
	for _, e := range events.Items {
		data, err := json.Marshal(e)
		require.NoError(t, err)
		check("events: "+e.Namespace+"/"+e.Name, data)
	}
	for _, list := range []client.ObjectList{&storageosv1.StorageOSClusterList{}, &storageosv1.StorageOSUpgradeList{},
		&storageosv1.JobList{}, &storageosv1.NFSServerList{}} {
		require.NoError(t, env.Client.List(ctx, list))
		data, err := json.Marshal(list)
		require.NoError(t, err)
		check(fmt.Sprintf("objects: %T", list), data)
	}
	t.Logf("scanned for %d Secret values (plain and base64): %v bytes; %d manager logs, %d events", len(needles)/2, scanned, managers, len(events.Items))
}
