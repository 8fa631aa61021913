package soak

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentile(t *testing.T) {
	s := func(secs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range secs {
			out = append(out, time.Duration(x)*time.Second)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		d    []time.Duration
		p    int
		want string
	}{
		{"none", nil, 50, "-"},
		{"one", s(3), 99, "3s"},
		{"median of four is the second", s(4, 1, 3, 2), 50, "2s"},
		{"p99 of a hundred is the 99th", s(make([]int, 100)...), 99, "0s"},
		{"max", s(5, 9, 1), 100, "9s"},
	} {
		assert.Equal(t, tc.want, percentile(tc.d, tc.p), tc.name)
	}
}

func TestReportCountsChecksAndViolations(t *testing.T) {
	r := newReport(42, time.Minute)
	r.check(JobOnce, "")
	r.check(JobOnce, "Job a announced its completion 2 times")
	r.check(NodePodsKept, "")
	r.fault(KillManager)
	r.converged(KillManager, 3*time.Second)
	r.action(CreateApp)
	assert.Equal(t, []string{JobOnce + ": Job a announced its completion 2 times"}, r.Violations())
	var out bytes.Buffer
	r.Print(&out)
	assert.Contains(t, out.String(), "seed 42")
	assert.Contains(t, out.String(), "make soak SEED=42 DURATION=1m0s")
	assert.Regexp(t, JobOnce+` +2 +1`, out.String())
	assert.Regexp(t, KillManager+` +1 +0 +3s +3s +3s +0`, out.String())
	assert.Contains(t, out.String(), "soak: 1 violations")
}
