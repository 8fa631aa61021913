package soak

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScheduleReplaysItsSeed(t *testing.T) {
	a, b := schedule(7, 30*time.Minute), schedule(7, 30*time.Minute)
	require.Equal(t, a, b, "the same seed, the same steps")
	assert.NotEqual(t, a, schedule(8, 30*time.Minute), "another seed, other steps")
	// A shorter soak is the start of the longer one: a failure found late replays from the same beginning.
	short := schedule(7, 3*time.Minute)
	require.NotEmpty(t, short)
	assert.Equal(t, a[:len(short)], short)
}

func TestScheduleCoversEveryKindWithinItsGaps(t *testing.T) {
	steps := schedule(1, 30*time.Minute)
	seen := map[string]int{}
	for i, st := range steps {
		seen[st.kind]++
		assert.Less(t, st.at, 30*time.Minute)
		if i > 0 {
			gap := st.at - steps[i-1].at
			assert.GreaterOrEqual(t, gap, minGap, "step %d", i)
			assert.Less(t, gap, maxGap, "step %d", i)
		}
	}
	for _, w := range weights {
		assert.Positive(t, seen[w.kind], "%s never comes in 30 minutes", w.kind)
	}
	assert.Greater(t, seen[KillManager], seen[RestartEtcd], "weights: manager kills come more often than etcd restarts")
}

func TestBetween(t *testing.T) {
	for _, tc := range []struct{ n, low, high, want int }{
		{0, 10, 60, 10}, {50, 10, 60, 60}, {51, 10, 60, 10}, {7, 1, 1, 1}, {3, 0, 3, 3}, {4, 0, 3, 0},
	} {
		assert.Equal(t, tc.want, between(tc.n, tc.low, tc.high), "%+v", tc)
	}
}

func TestIsFault(t *testing.T) {
	assert.True(t, isFault(KillManager))
	assert.True(t, isFault(WebhookCertDel))
	assert.False(t, isFault(EditCluster))
	assert.False(t, isFault("end of the soak"))
}
