// Package proc runs the local cluster's and the demo's components as child processes: each in its own process
// group (so stopping one stops whatever it started), logging to a file, stoppable gracefully or with SIGKILL,
// and measurable (peak resident memory).
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is a running (or exited) child process.
type Process struct {
	Name string
	// LogPath receives the process's stdout and stderr.
	LogPath string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// Start runs bin with args and env (added to this process's environment), logging to logPath.
func Start(name, bin string, args, env []string, logPath string) (*Process, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: binary %s is missing", name, bin)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig: if the driver dies (a panicking test, a killed make demo) its children die with it instead of
	// holding ports and CPU. Go never ends the threads that start processes here, so it fires only then.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// Command is the binary and arguments the process was started with (not its added environment), to start it
// again alike.
func (p *Process) Command() (bin string, args []string) { return p.cmd.Path, p.cmd.Args[1:] }

// Pid is the process's id, which is also its process group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the process exited (nil for exit code 0); only meaningful once Done is closed.
func (p *Process) Err() error { return p.err }

// Stop sends SIGTERM to the process group and SIGKILL after grace. It reports a process that had to be killed.
func (p *Process) Stop(grace time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.Name, grace)
	}
}

// Kill sends SIGKILL to the process group, as when a node or container dies, and waits for the exit.
func (p *Process) Kill() {
	if p.Exited() {
		return // its pid may already belong to another process
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM), while it runs.
func (p *Process) PeakRSS() (int64, error) { return p.memory("VmHWM") }

// RSS is the process's resident set size in bytes (VmRSS), while it runs.
func (p *Process) RSS() (int64, error) { return p.memory("VmRSS") }

// memory reads a field of /proc/<pid>/status that is in kB.
func (p *Process) memory(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

// userHZ is the unit of /proc/<pid>/stat's CPU times: Linux reports them in USER_HZ, 100 a second on the
// architectures this runs on (not alpha or ia64), whatever the kernel's own tick.
const userHZ = 100

// CPUTime is the CPU time the process has used so far, user and system, while it runs.
func (p *Process) CPUTime() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count the fields after its end.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat")
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc stat")
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// Log is what the process has written so far.
func (p *Process) Log() string {
	data, _ := os.ReadFile(p.LogPath)
	return string(data)
}

// Wait polls check until it passes. It fails at once, with ExitedError, when a process that running returns
// has exited (nothing started that way will ever pass), and otherwise when timeout passes, with check's last
// error. running may be nil.
func Wait(ctx context.Context, what string, timeout time.Duration, running func() []*Process, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		last := check(ctx)
		if last == nil {
			return nil
		}
		if running != nil {
			for _, p := range running() {
				if p.Exited() {
					return ExitedError(p, what)
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s waiting for %s (last: %w)", timeout, what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ExitedError explains a process that exited while it was being waited for, with what to do when the cause
// is a port another program took (it is chosen anew on the next run).
func ExitedError(p *Process, waitingFor string) error {
	hint := "see " + p.LogPath
	if strings.Contains(p.Log(), "address already in use") {
		hint = "a port it was given was taken by another program meanwhile; run again (ports are chosen anew). Log: " + p.LogPath
	}
	return fmt.Errorf("%s exited while waiting for %s: %s", p.Name, waitingFor, hint)
}

// Record identifies a process started earlier beyond its pid, which the kernel reuses: the pid with the
// process's start time (clock ticks after boot).
type Record struct {
	Pid   int
	Start string
	Name  string
}

// RecordOf is the Record of a running process.
func RecordOf(name string, pid int) (Record, error) {
	_, start, err := stat(pid)
	return Record{Pid: pid, Start: start, Name: name}, err
}

// Running reports whether the recorded process is still running: same pid and start time, not exited.
func (r Record) Running() bool {
	state, start, err := stat(r.Pid)
	return err == nil && start == r.Start && state != "Z"
}

// String is the Record as one line of a pids file: "pid start name".
func (r Record) String() string { return fmt.Sprintf("%d %s %s", r.Pid, r.Start, r.Name) }

// ParseRecord reads a line written by Record.String.
func ParseRecord(line string) (Record, error) {
	f := strings.Fields(line)
	if len(f) < 2 {
		return Record{}, fmt.Errorf("malformed process record %q", line)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return Record{}, fmt.Errorf("malformed process record %q", line)
	}
	r := Record{Pid: pid, Start: f[1]}
	if len(f) > 2 {
		r.Name = f[2]
	}
	return r, nil
}

// stat reads a process's state and start time from /proc/<pid>/stat.
func stat(pid int) (state, start string, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", "", err
	}
	// The command name, in parentheses, may contain spaces: the fields after it start with the state (field 3);
	// the start time is field 22.
	i := bytes.LastIndexByte(data, ')')
	fields := strings.Fields(string(data[i+1:]))
	if i < 0 || len(fields) < 20 {
		return "", "", fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return fields[0], fields[19], nil
}

// KillGroups kills the process groups of the recorded processes that still run (what a killed driver left
// behind) and reports how many there were. A pid now used by another process is left alone.
func KillGroups(records []Record) (killed int) {
	for _, r := range records {
		if r.Running() {
			_ = syscall.Kill(-r.Pid, syscall.SIGKILL)
			killed++
		}
	}
	return killed
}

// Ready asks a component's health endpoint, url, and fails unless it answers 200 OK, saying what it answered.
func Ready(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
