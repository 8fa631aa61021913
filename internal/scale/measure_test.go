package scale

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The p99 of the observations between two readings of a histogram, as histogram_quantile interpolates it.
func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	before := buckets{0.005: 10, 0.01: 10, 0.025: 10, inf: 10}
	for _, tc := range []struct {
		name  string
		after buckets
		q     float64
		want  time.Duration
		count int
	}{
		{"nothing observed since", before, 0.99, 0, 0},
		{"all in the first bucket", buckets{0.005: 110, 0.01: 110, 0.025: 110, inf: 110}, 0.99, 4950 * time.Microsecond, 100},
		{"the tail in the second bucket", buckets{0.005: 100, 0.01: 110, 0.025: 110, inf: 110}, 0.99, 9500 * time.Microsecond, 100},
		{"beyond the last bound: the bound", buckets{0.005: 10, 0.01: 10, 0.025: 10, inf: 110}, 0.99, 25 * time.Millisecond, 100},
		{"the median", buckets{0.005: 60, 0.01: 110, 0.025: 110, inf: 110}, 0.5, 5 * time.Millisecond, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, count := quantile(tc.q, before, tc.after)
			assert.Equal(t, tc.count, count)
			assert.InDelta(t, tc.want.Seconds(), got.Seconds(), 1e-9)
		})
	}
}
