package cluster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestChildEventsDelay(t *testing.T) {
	const interval = 2 * time.Second
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	a := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "storageos", Name: "a"}}
	b := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "storageos", Name: "b"}}
	type step struct {
		req  reconcile.Request
		at   time.Duration // after t0
		want time.Duration // -1: a reconcile already scheduled sees it
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
		{"a storm costs one reconcile per interval",
			[]step{{a, 0, 0}, {a, 100 * time.Millisecond, 1900 * time.Millisecond}, {a, 200 * time.Millisecond, -1},
				{a, 1900 * time.Millisecond, -1}, {a, 2 * time.Second, -1}, {a, 2100 * time.Millisecond, 1900 * time.Millisecond},
				{a, 3 * time.Second, -1}}},
		{"the same instant twice (a relabelled object's old and new cluster being one) enqueues once",
			[]step{{a, 0, 0}, {a, 0, -1}}},
		{"clusters are limited apart", []step{{a, 0, 0}, {b, 100 * time.Millisecond, 0}, {a, 200 * time.Millisecond, 1800 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newChildEvents(interval)
			for i, s := range tt.steps {
				assert.Equal(t, tt.steps[i].want, b.delay(s.req, t0.Add(s.at)), "step %d at %s", i, s.at)
			}
		})
	}
}
