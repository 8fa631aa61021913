package job

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The real log reader asks pods/log for a bounded read of the current container, and never runs more reads at
// once than it was allowed.
func TestPodLogReaderBoundsEveryRead(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	var mu sync.Mutex
	var queries []map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		switch r.URL.Path {
		case "/api/v1/namespaces/jobs/pods/done-pod/log":
			_, _ = w.Write([]byte("cleaning\nall done, sleeping\n"))
		default:
			_, _ = w.Write([]byte("cleaning\n"))
		}
	}))
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	reader := NewPodLogReader(cs, 2)

	started := metav1.NewTime(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "jobs"},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: ContainerName,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}}}},
		}
	}
	found, err := reader.Contains(context.Background(), pod("done-pod"), ContainerName, "done")
	require.NoError(t, err)
	assert.True(t, found, "the word mid-line counts")

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found, err := reader.Contains(context.Background(), pod("busy-pod"), ContainerName, "done")
			assert.NoError(t, err)
			assert.False(t, found)
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, maxInFlight.Load(), int32(2), "concurrent reads are bounded")

	q := queries[0]
	assert.Equal(t, []string{ContainerName}, q["container"])
	assert.Equal(t, []string{"200"}, q["tailLines"])
	assert.Equal(t, []string{"262144"}, q["limitBytes"])
	assert.Equal(t, []string{"2026-11-26T10:00:00Z"}, q["sinceTime"], "only the current container's output")
}

// A log stream that starts and then never ends fails at the reader's deadline and frees its slot, so the reads
// queued behind it proceed.
func TestPodLogReaderTimesOutAStuckStream(t *testing.T) {
	stuck := make(chan struct{}) // closed once the stuck stream's request has arrived
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/namespaces/jobs/pods/stuck-pod/log" {
			// Headers and a first line arrive, the rest never does: Stream returns, the body read hangs.
			_, _ = w.Write([]byte("cleaning\n"))
			w.(http.Flusher).Flush()
			close(stuck)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		_, _ = w.Write([]byte("done\n"))
	}))
	// The handler must return before Close, which waits for it.
	defer srv.Close()
	defer close(release)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	require.NoError(t, err)
	// One slot: without a deadline the stuck read would hold it for good.
	reader := NewPodLogReader(cs, 1)
	assert.Equal(t, DefaultLogReadTimeout, reader.Timeout, "a deadline unless configured otherwise")
	reader.Timeout = 300 * time.Millisecond

	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "jobs"}}
	}
	type result struct {
		err     error
		elapsed time.Duration
	}
	stuckRead := make(chan result, 1)
	start := time.Now()
	go func() {
		_, err := reader.Contains(context.Background(), pod("stuck-pod"), ContainerName, "done")
		stuckRead <- result{err, time.Since(start)}
	}()
	<-stuck
	// Queued behind the stuck read for its only slot; bounded here so a regression fails instead of hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	found, err := reader.Contains(ctx, pod("other-pod"), ContainerName, "done")
	require.NoError(t, err, "the read queued behind the stuck one")
	assert.True(t, found)

	select {
	case res := <-stuckRead:
		require.Error(t, res.err)
		assert.ErrorIs(t, res.err, context.DeadlineExceeded)
		assert.Contains(t, res.err.Error(), "jobs/stuck-pod", "the error says which pod")
		assert.GreaterOrEqual(t, res.elapsed, reader.Timeout)
		assert.Less(t, res.elapsed, 5*time.Second, "the stuck read ended at its deadline")
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck read did not end at its deadline")
	}
}
