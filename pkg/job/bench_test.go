//go:build !mutation

package job_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// BenchmarkCompletion500 runs a job on 500 simulated nodes and reports the time from the last pod printing the
// word to the job being completed, and how often each pod's logs were read (target: a done pod's logs at most
// once after it printed the word). Run with: make bench.
func BenchmarkCompletion500(b *testing.B) {
	const nodes = 500
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		j := createJob(b, fmt.Sprintf("bench-%d", i))
		ds := daemonSet(b, j)
		scheduleOn(b, ds, nodes)
		pods := make([]*corev1.Pod, nodes)
		var g errgroup.Group
		g.SetLimit(8)
		for n := range nodes {
			g.Go(func() (err error) {
				pods[n], err = createRunningPod(ds, fmt.Sprintf("node-%03d", n))
				return err
			})
		}
		require.NoError(b, g.Wait())
		for _, pod := range pods[:nodes-1] {
			logs.print(pod, "done")
		}
		eventuallyStatus(b, j, func(st storageosv1.JobStatus) bool { return st.NodesCompleted == nodes-1 }, "499 nodes done")

		logs.print(pods[nodes-1], "done")
		start := time.Now()
		b.StartTimer()
		eventuallyStatus(b, j, func(st storageosv1.JobStatus) bool { return st.Completed }, "completed")
		b.StopTimer()
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-last-word-to-completed")

		worst := 0
		for _, pod := range pods {
			worst = max(worst, logs.afterWord(pod))
		}
		require.LessOrEqual(b, worst, 1, "a done pod's logs were read again")
		b.ReportMetric(float64(logs.readsOf(pods))/nodes, "log-reads/pod")
		b.ReportMetric(float64(worst), "max-reads-after-word/pod")
		b.StartTimer()
	}
}
