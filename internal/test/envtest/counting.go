package envtest

import (
	"net/http"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// RequestCounter counts the requests a REST config sends to the API server, to prove what a controller does
// not do (write unchanged objects, read around its cache).
type RequestCounter struct {
	writes atomic.Int64
	reads  atomic.Int64
}

// Wrap installs the counter on a REST config.
func (c *RequestCounter) Wrap(cfg *rest.Config) {
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			switch {
			case req.Method != http.MethodGet:
				c.writes.Add(1)
			case req.URL.Query().Get("watch") != "true":
				// A GET that is not a watch is a list or a get: a read the informer cache did not serve.
				c.reads.Add(1)
			}
			return rt.RoundTrip(req)
		})
	})
}

// Writes is the number of create, update, patch and delete requests so far.
func (c *RequestCounter) Writes() int64 { return c.writes.Load() }

// Reads is the number of get and list requests so far (watches excluded).
func (c *RequestCounter) Reads() int64 { return c.reads.Load() }

// Reset sets both counts to zero.
func (c *RequestCounter) Reset() {
	c.writes.Store(0)
	c.reads.Store(0)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
