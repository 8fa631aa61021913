package manager

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// fakeAPIServer answers discovery once its first refusals are used up, as an API server coming back.
func fakeAPIServer(t *testing.T, refusals int32) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= refusals {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api":
			_, _ = w.Write([]byte(`{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`))
		case "/apis":
			_, _ = w.Write([]byte(`{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// Replays what make soak found: a manager started during a kube-apiserver restart exited at once ("failed to
// get server groups"). It now waits for the API server and starts once it answers.
func TestWaitForAPIServerWaitsForItToAnswer(t *testing.T) {
	srv, calls := fakeAPIServer(t, 3)
	err := waitForAPIServer(context.Background(), &rest.Config{Host: srv.URL}, time.Minute, logr.Discard())
	require.NoError(t, err)
	assert.Greater(t, calls.Load(), int32(3), "asked again after the refusals")
}

func TestWaitForAPIServerGivesUpWithTheLastError(t *testing.T) {
	srv, _ := fakeAPIServer(t, 1<<30)
	err := waitForAPIServer(context.Background(), &rest.Config{Host: srv.URL}, 2500*time.Millisecond, logr.Discard())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to handle the request", "the API server's answer, not only a timeout")
}

// An API server that accepts connections and never answers: the wait ends near its bound, each call cut off
// within it (discovery's own default cuts a call off only after 32 s).
func TestWaitForAPIServerEndsWhenItNeverAnswers(t *testing.T) {
	hung := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-hung }))
	t.Cleanup(srv.Close) // runs last: the handlers are released first
	t.Cleanup(func() { close(hung) })
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- waitForAPIServer(context.Background(), &rest.Config{Host: srv.URL}, 3*time.Second, logr.Discard())
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Less(t, time.Since(start), 20*time.Second, "a call outlived the wait's 3 s bound")
	case <-time.After(time.Minute):
		t.Fatal("the wait for an API server that never answers did not end at its bound")
	}
}
