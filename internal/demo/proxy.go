package demo

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// serviceProxy stands in for a Service in front of the webhook processes: it accepts TCP on a loopback port
// and forwards each connection to the next backend that accepts one, round robin. TLS passes through, so the
// API server verifies the webhook's own certificate. With every backend down, connections are closed, as a
// Service without ready endpoints refuses them.
type serviceProxy struct {
	listener net.Listener
	backends []string
	next     atomic.Uint64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newServiceProxy(backendPorts []string) (*serviceProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &serviceProxy{listener: l, conns: map[net.Conn]struct{}{}}
	for _, port := range backendPorts {
		p.backends = append(p.backends, "127.0.0.1:"+port)
	}
	go p.serve()
	return p, nil
}

// Port is the loopback port the proxy listens on.
func (p *serviceProxy) Port() string { return strconv.Itoa(p.listener.Addr().(*net.TCPAddr).Port) }

func (p *serviceProxy) serve() {
	for {
		conn, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.forward(conn)
	}
}

func (p *serviceProxy) forward(conn net.Conn) {
	defer p.track(conn)()
	start := p.next.Add(1)
	var backend net.Conn
	for i := range p.backends {
		addr := p.backends[(int(start)+i)%len(p.backends)]
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			backend = c
			break
		}
	}
	if backend == nil {
		return
	}
	defer p.track(backend)()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(backend, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, backend); done <- struct{}{} }()
	<-done
}

// track remembers an open connection until the returned function closes it.
func (p *serviceProxy) track(c net.Conn) func() {
	p.mu.Lock()
	if p.closed {
		// Accepted or dialled while the proxy closed: nothing may outlive Close.
		p.mu.Unlock()
		_ = c.Close()
		return func() {}
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = c.Close()
	}
}

// Close stops accepting and closes every open connection.
func (p *serviceProxy) Close() {
	_ = p.listener.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
}
