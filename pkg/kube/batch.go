package kube

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// BatchedEvents enqueues the object an event maps to (a child's owner, a pod's Job) at once if that object was
// not enqueued by a BatchedEvents event in the last interval, else at the end of that interval. A lone event (a
// node pod turning unready, a child edited by hand) is reacted to at once; a storm of them (an upgrade replacing
// thousands of node pods, each turning unready and ready; a Job's pods starting on thousands of nodes) costs one
// reconcile and one status write per interval rather than one per pod, as Kubernetes' own Job controller batches
// pod updates. Nothing is lost: the reconcile at the end of the interval reads the cache as it then is. The times
// are only a rate limit, not state: a restarted process starts with none, and reconciles everything anyway.
type BatchedEvents struct {
	interval time.Duration
	mu       sync.Mutex
	// last is, per request, when the latest enqueue for an event runs (now, or later if delayed).
	last map[reconcile.Request]time.Time
}

// batchedPrune is how many requests BatchedEvents remembers before it forgets those it no longer limits.
const batchedPrune = 1024

// NewBatchedEvents batches each request's events to one reconcile per interval.
func NewBatchedEvents(interval time.Duration) *BatchedEvents {
	return &BatchedEvents{interval: interval, last: map[reconcile.Request]time.Time{}}
}

// delay is how long from now the reconcile of req for an event at now should wait: 0 for at once, else until
// the end of the interval that began with the last reconcile enqueued at once. An event inside an interval
// whose end is already scheduled is enqueued for that end again: the queue keeps one entry per request, at its
// earliest time, so a later entry may have been merged into an earlier reconcile that ran before this event.
func (b *BatchedEvents) delay(req reconcile.Request, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.last) > batchedPrune {
		// Requests come and go (a Job per cleanup): forget those whose interval has long ended.
		for r, at := range b.last {
			if now.Sub(at) > b.interval {
				delete(b.last, r)
			}
		}
	}
	last, seen := b.last[req]
	switch {
	case seen && last.After(now):
		return last.Sub(now)
	case !seen || now.Sub(last) >= b.interval:
		b.last[req] = now
		return 0
	default:
		at := last.Add(b.interval)
		b.last[req] = at
		return at.Sub(now)
	}
}

// Handler maps an object to requests with toRequests and enqueues them, rate-limited as above. An update
// enqueues the requests of the object before and after it (a child relabelled from one owner to another: both
// hear of it), each once.
func (b *BatchedEvents) Handler(toRequests handler.MapFunc) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(ctx context.Context, q queue, objs ...client.Object) {
		now := time.Now()
		seen := map[reconcile.Request]bool{}
		for _, obj := range objs {
			for _, req := range toRequests(ctx, obj) {
				if seen[req] {
					continue
				}
				seen[req] = true
				if d := b.delay(req, now); d > 0 {
					q.AddAfter(req, d)
				} else {
					q.Add(req)
				}
			}
		}
	}
	return handler.Funcs{
		CreateFunc:  func(ctx context.Context, e event.CreateEvent, q queue) { enqueue(ctx, q, e.Object) },
		UpdateFunc:  func(ctx context.Context, e event.UpdateEvent, q queue) { enqueue(ctx, q, e.ObjectOld, e.ObjectNew) },
		DeleteFunc:  func(ctx context.Context, e event.DeleteEvent, q queue) { enqueue(ctx, q, e.Object) },
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q queue) { enqueue(ctx, q, e.Object) },
	}
}
