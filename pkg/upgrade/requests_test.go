//go:build !mutation

package upgrade_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/rest"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

// apiRequest is one request of the upgrade-manager, as the API server sees it.
type apiRequest struct {
	verb     string // get, list, watch, or the method of a write
	resource string // plural, e.g. deployments
	query    url.Values
}

// requestLog records every request sent through a REST config, to check what reaches the API server rather
// than how the code is written.
type requestLog struct {
	mu       sync.Mutex
	requests []apiRequest
}

// wrap installs the log on a REST config.
func (l *requestLog) wrap(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			l.mu.Lock()
			l.requests = append(l.requests, parseRequest(req))
			l.mu.Unlock()
			return rt.RoundTrip(req)
		})
	})
}

// take returns the requests recorded since the last take, and forgets them.
func (l *requestLog) take() []apiRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.requests
	l.requests = nil
	return out
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// parseRequest reads the verb and resource of a request from its path: /api/v1/[namespaces/<ns>/]<resource>[/<name>]
// or /apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>].
func parseRequest(req *http.Request) apiRequest {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return apiRequest{verb: strings.ToLower(req.Method), resource: req.URL.Path}
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		parts = parts[2:]
	}
	r := apiRequest{verb: strings.ToLower(req.Method), query: req.URL.Query()}
	if len(parts) > 0 {
		r.resource = parts[0]
	}
	if req.Method == http.MethodGet {
		switch {
		case len(parts) > 1:
			r.verb = "get"
		case r.query.Get("watch") == "true":
			r.verb = "watch"
		default:
			r.verb = "list"
		}
	}
	return r
}

// While a step waits (here: for the pods of scaled-down applications to go), the upgrade-manager reads the
// cluster's Deployments, StatefulSets, claims, volumes, classes and pods from its cache, never from the API
// server, and looks less and less often while nothing changes.
func TestAWaitingStepReadsFromTheCacheAndBacksOff(t *testing.T) {
	w := newWorld(t)
	var log requestLog
	const maxPoll = time.Second
	startManager(t, managerOptions{wrap: log.wrap, maxPollInterval: maxPoll})
	w.holdAppPods.Store(true) // scaled to zero, the applications' pods stay: the upgrade waits in ScalingDown
	u := createUpgrade(t, w.cluster.Namespace, newImage)
	require.Eventually(t, func() bool {
		got := get(t, u)
		c := meta.FindStatusCondition(got.Status.Conditions, upgrade.ConditionProgressing)
		return got.Status.Phase == storageosv1.UpgradePhaseScalingDown && c != nil && strings.Contains(c.Message, "still exist")
	}, timeout, tick, "the upgrade never waited in ScalingDown")

	log.take()
	const window = 6 * time.Second
	time.Sleep(window)
	requests := log.take()
	require.Equal(t, storageosv1.UpgradePhaseScalingDown, get(t, u).Status.Phase, "the upgrade still waits")

	counts := map[string]int{}
	var lists, otherReads []string
	for _, r := range requests {
		counts[r.verb+" "+r.resource]++
		switch {
		case r.verb == "list":
			lists = append(lists, r.resource)
		case r.verb == "get" && !freshEachLook[r.resource]:
			otherReads = append(otherReads, r.resource)
		}
	}
	t.Logf("requests of the upgrade-manager in %s of waiting in ScalingDown: %d %v", window, len(requests), counts)
	// Every look lists the pods still up, the workloads, claims, volumes and classes: from the cache, so the
	// API server does no work that grows with the cluster on each look.
	assert.Empty(t, lists, "lists from the API server while waiting")
	assert.Empty(t, otherReads, "reads from the API server beside the upgrade, its cluster and the node DaemonSet")
	// The step looks again after 100ms, then ever less often up to maxPoll: a look every 100ms would read the
	// upgrade some 60 times in the window.
	assert.LessOrEqual(t, counts["get storageosupgrades"], int(window/maxPoll)+4, "the waiting step backs off")

	w.holdAppPods.Store(false)
	assertCompleted(t, w, u, true)
	// The rest of the upgrade (the node pods replaced, the applications back) lists nothing either.
	var later []string
	for _, r := range log.take() {
		if r.verb == "list" && !freshEachLook[r.resource] {
			later = append(later, r.resource)
		}
	}
	assert.Empty(t, later, "lists from the API server after ScalingDown")
	deleteUpgrade(t, u)
	assertReleased(t, w)
}

// freshEachLook are the objects a look reads from the API server: a handful whatever the cluster's size.
var freshEachLook = map[string]bool{"storageosupgrades": true, "storageosclusters": true, "daemonsets": true}
