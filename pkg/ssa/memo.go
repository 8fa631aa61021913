package ssa

import (
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Memo is for objects applied without being read (they are not cached, and reading them each time would cost
// a request): it remembers what was last sent for each object, so an unchanged object is not sent again. After
// a restart each object is sent once more, which is a no-op on the server.
type Memo struct {
	mu   sync.Mutex
	last map[string]string
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{last: map[string]string{}} }

// Do calls send unless obj is what the last successful send for its kind, namespace and name sent.
func (m *Memo) Do(obj *unstructured.Unstructured, send func() error) error {
	hash, err := contentHash(obj)
	if err != nil {
		return err
	}
	key := Key(obj.GroupVersionKind(), obj)
	m.mu.Lock()
	same := m.last[key] == hash
	m.mu.Unlock()
	if same {
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	m.mu.Lock()
	m.last[key] = hash
	m.mu.Unlock()
	return nil
}
