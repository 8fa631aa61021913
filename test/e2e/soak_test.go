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

// soakSeed is the e2e's soak schedule: a fixed seed, so that a failure here replays with
// make soak SEED=20261204 DURATION=2m. The e2e's binaries are built without the race detector (make soak's
// are), so here "no data race" only holds as far as a race shows as a panic.
const soakSeed = 20261204

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
