//go:build e2e

package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/storageos/cluster-operator/internal/soak"
)

// soakSeed is the e2e's soak schedule: a fixed seed whose first two minutes take most kinds of step (an
// NFSServer, applications and bare pods, spec edits, an upgrade, a Job; the webhook's certificate deleted, the
// StorageOS API down, kube-apiserver and etcd restarted, a node NotReady, a manager killed), so that a failure
// here replays with
// make soak SEED=24921 DURATION=2m. The e2e's binaries are built without the race detector (make soak's
// are), so here "no data race" only holds as far as a race shows as a panic.
const soakSeed = 24921

// A short soak with a fixed seed: user actions and faults interleaved on the cluster the earlier steps left,
// every invariant checked (internal/soak), and what the soak made removed again.
func testSoak(t *testing.T) {
	ctx := context.Background()
	r, err := soak.Run(ctx, env, soak.Options{Seed: soakSeed, Duration: 2 * time.Minute, Converge: 3 * time.Minute,
		Progress: os.Stderr, CleanUp: true})
	r.Print(os.Stderr)
	require.NoError(t, err)
	assert.Empty(t, r.Violations(), "replay: make soak SEED=%d DURATION=2m", soakSeed)
}
