package binaries

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Deadlines are generous: a loaded 2-core machine can take many seconds to start a Go binary and its caches.
const (
	startDeadline = 2 * time.Minute
	stopDeadline  = time.Minute
	pollInterval  = 100 * time.Millisecond
)

// process is a manager binary running against the test API server.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
	err  error
}

// startBinary runs bin/test-binaries/<name> with the admin kubeconfig and the given flags.
func startBinary(t *testing.T, name string, args ...string) *process {
	t.Helper()
	p := &process{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+testEnv.Kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.logs.String())
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(stopDeadline):
		t.Fatalf("still running %s after SIGTERM", stopDeadline)
	}
	return p.exitCode(t)
}

// exitCode is the exit code of a process that has exited.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// logLines returns the JSON log entries written so far; a non-JSON line fails the test, since JSON is the
// default log format.
func (p *process) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var entries []map[string]any
	// Only complete lines: the last one may still be arriving through the pipe.
	out := p.logs.String()
	out = out[:strings.LastIndexByte(out, '\n')+1]
	s := bufio.NewScanner(strings.NewReader(out))
	for s.Scan() {
		entry := map[string]any{}
		require.NoError(t, json.Unmarshal(s.Bytes(), &entry), "log line is not JSON: %s", s.Text())
		entries = append(entries, entry)
	}
	return entries
}

// healthProbeAddr waits for the "starting server" log of the health probe server and returns the address it
// listens on, so tests bind to port 0 instead of guessing a free one.
func (p *process) healthProbeAddr(t *testing.T) string {
	t.Helper()
	var addr string
	waitFor(t, startDeadline, "the health probe server to start", func() bool {
		for _, e := range p.logLines(t) {
			if e["msg"] == "starting server" && e["name"] == "health probe" {
				addr, _ = e["addr"].(string)
				return addr != ""
			}
		}
		select {
		case <-p.done:
			t.Fatalf("exited before serving probes: %v", p.err)
		default:
		}
		return false
	})
	return addr
}

// waitForLog waits until the process has logged msg.
func (p *process) waitForLog(t *testing.T, msg string) {
	t.Helper()
	waitFor(t, startDeadline, "the log "+msg, func() bool {
		for _, e := range p.logLines(t) {
			if e["msg"] == msg {
				return true
			}
		}
		return false
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", deadline, what)
		case <-time.After(pollInterval):
		}
	}
}

// startWithMetrics starts a binary with its metrics server on a free loopback port and returns it with that
// address. The port is free when chosen but may be taken before the binary binds it (other test packages start
// API servers in parallel), so a bind failure is retried on another port.
func startWithMetrics(t *testing.T, name string) (*process, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		p := startBinary(t, name, "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address="+addr)
		var exited bool
		waitFor(t, startDeadline, "the metrics server to start", func() bool {
			select {
			case <-p.done:
				exited = true
				return true
			default:
			}
			for _, e := range p.logLines(t) {
				if e["msg"] == "Serving metrics server" {
					return true
				}
			}
			return false
		})
		if !exited {
			return p, addr
		}
		if attempt == 3 || !strings.Contains(p.logs.String(), "address already in use") {
			t.Fatalf("%s exited before serving metrics: %v\n%s", name, p.err, p.logs.String())
		}
	}
}

// freeAddr returns a loopback address with a port the kernel just handed out, for servers whose bound
// address is not logged (the metrics server logs only the address it was given).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
