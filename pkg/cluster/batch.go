package cluster

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

// childEventInterval is the shortest time between two reconciles of a cluster caused by its children's events.
const childEventInterval = 2 * time.Second

// childEvents enqueues the cluster a child object belongs to, at once if the cluster was not enqueued for a
// child's event in the last interval, else at the end of that interval. A lone event (a node pod turning
// unready, a child edited by hand) is reacted to at once; a storm of them (an upgrade replacing thousands of node
// pods, each turning unready and ready, and the DaemonSet's status following each) costs one reconcile and one
// status write per interval rather than one per pod. Nothing is lost: the reconcile at the end of the interval
// reads the cache as it then is. The times are only a rate limit, not state: a restarted process starts with
// none, and reconciles everything anyway.
type childEvents struct {
	interval time.Duration
	mu       sync.Mutex
	// last is, per cluster, when the latest enqueue for a child's event runs (now, or later if delayed).
	last map[reconcile.Request]time.Time
}

func newChildEvents(interval time.Duration) *childEvents {
	return &childEvents{interval: interval, last: map[reconcile.Request]time.Time{}}
}

// delay is how long from now the reconcile of req for an event at now should wait: 0 for at once, else until
// the end of the interval that began with the last reconcile enqueued at once. An event inside an interval
// whose end is already scheduled is enqueued for that end again: the queue keeps one entry per cluster, at its
// earliest time, so a later entry may have been merged into an earlier reconcile that ran before this event.
func (b *childEvents) delay(req reconcile.Request, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
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

// handler maps a child to its cluster with toCluster and enqueues it, rate-limited as above. An update
// enqueues the clusters of the object before and after it (relabelled from one cluster to another: both hear
// of it), each once.
func (b *childEvents) handler(toCluster handler.MapFunc) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(ctx context.Context, q queue, objs ...client.Object) {
		now := time.Now()
		seen := map[reconcile.Request]bool{}
		for _, obj := range objs {
			for _, req := range toCluster(ctx, obj) {
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
