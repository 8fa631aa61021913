package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestBatchedEventsDelay(t *testing.T) {
	const interval = 2 * time.Second
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	a := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "storageos", Name: "a"}}
	b := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "storageos", Name: "b"}}
	type step struct {
		req  reconcile.Request
		at   time.Duration // after t0
		want time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a lone event is reconciled at once", []step{{a, 0, 0}}},
		{"events further apart than the interval are each reconciled at once",
			[]step{{a, 0, 0}, {a, interval, 0}, {a, 3 * interval, 0}}},
		{"an event soon after one waits for the end of the interval",
			[]step{{a, 0, 0}, {a, 500 * time.Millisecond, 1500 * time.Millisecond}}},
		{"a storm costs one reconcile per interval: every event in it is enqueued for the interval's end",
			[]step{{a, 0, 0}, {a, 100 * time.Millisecond, 1900 * time.Millisecond}, {a, 200 * time.Millisecond, 1800 * time.Millisecond},
				{a, 1900 * time.Millisecond, 100 * time.Millisecond}, {a, 2100 * time.Millisecond, 1900 * time.Millisecond},
				{a, 3 * time.Second, time.Second}}},
		{"an event at the instant of an enqueue gets a reconcile of its own: the first may have read the cache without it",
			[]step{{a, 0, 0}, {a, 0, interval}}},
		{"an event at the instant a delayed reconcile runs gets one of its own",
			[]step{{a, 0, 0}, {a, 100 * time.Millisecond, 1900 * time.Millisecond}, {a, interval, interval}}},
		{"requests are limited apart", []step{{a, 0, 0}, {b, 100 * time.Millisecond, 0}, {a, 200 * time.Millisecond, 1800 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBatchedEvents(interval)
			for i, s := range tt.steps {
				assert.Equal(t, tt.steps[i].want, b.delay(s.req, t0.Add(s.at)), "step %d at %s", i, s.at)
			}
		})
	}
}

// recordingQueue records what a handler enqueues, at once or later.
type recordingQueue struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	now   []reconcile.Request
	later []reconcile.Request
}

func (q *recordingQueue) Add(r reconcile.Request)                       { q.now = append(q.now, r) }
func (q *recordingQueue) AddAfter(r reconcile.Request, _ time.Duration) { q.later = append(q.later, r) }

// An update is one event: the object before and after it belongs to the same owner, which is enqueued once,
// not once at once and again an interval later.
func TestBatchedEventsHandlerEnqueuesAnUpdateOnce(t *testing.T) {
	const ownerLabel = "owner"
	pod := func(owner string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "storageos-node-1", Namespace: "storageos",
			Labels: map[string]string{ownerLabel: owner}}}
	}
	ownerOf := func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetLabels()[ownerLabel]}}}
	}
	h := NewBatchedEvents(2 * time.Second).Handler(ownerOf)
	q := &recordingQueue{}
	h.Update(context.Background(), event.UpdateEvent{ObjectOld: pod("a"), ObjectNew: pod("a")}, q)
	assert.Len(t, q.now, 1)
	assert.Empty(t, q.later)

	// Relabelled to another cluster: both hear of it, the first (just enqueued) after the interval.
	h.Update(context.Background(), event.UpdateEvent{ObjectOld: pod("a"), ObjectNew: pod("b")}, q)
	assert.Equal(t, []string{"a", "b"}, []string{q.now[0].Name, q.now[1].Name})
	assert.Equal(t, "a", q.later[0].Name)
}

// Requests come and go (a Job per cleanup): once many are remembered, those whose interval has long ended are
// forgotten, and a forgotten request is reconciled at once, as a new one is.
func TestBatchedEventsForgetRequestsTheyNoLongerLimit(t *testing.T) {
	b := NewBatchedEvents(time.Second)
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	request := func(i int) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "jobs", Name: fmt.Sprint(i)}}
	}
	for i := range batchedPrune + 1 {
		assert.Zero(t, b.delay(request(i), t0))
	}
	assert.Zero(t, b.delay(request(-1), t0.Add(2*time.Second)))
	assert.Len(t, b.last, 1, "only the request of the last event is remembered")
	assert.Zero(t, b.delay(request(0), t0.Add(2*time.Second)))
}
