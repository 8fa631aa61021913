package proc_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storageos/cluster-operator/internal/proc"
)

func start(t *testing.T, script string) *proc.Process {
	t.Helper()
	p, err := proc.Start("sh", "/bin/sh", []string{"-c", script}, []string{"GREETING=hello"}, filepath.Join(t.TempDir(), "logs", "sh.log"))
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	return p
}

func exited(t *testing.T, p *proc.Process) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(time.Minute):
		t.Fatal("process did not exit")
	}
}

func TestStartLogsAndExplainsExits(t *testing.T) {
	for _, tc := range []struct {
		name, script, want string
	}{
		{"a port taken meanwhile", "echo \"listen tcp 127.0.0.1:20001: bind: address already in use\"; exit 1", "a port it was given was taken by another program"},
		{"any other exit", "echo \"$GREETING from the child\"; exit 3", "see "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.script)
			exited(t, p)
			require.Error(t, p.Err())
			require.ErrorContains(t, proc.ExitedError(p, "readiness"), "sh exited while waiting for readiness: "+tc.want)
			require.ErrorContains(t, proc.ExitedError(p, "readiness"), p.LogPath)
		})
	}
	p := start(t, "echo \"$GREETING\"")
	exited(t, p)
	require.Equal(t, "hello\n", p.Log(), "stdout goes to the log, with the extra environment")
}

func TestMissingBinary(t *testing.T) {
	_, err := proc.Start("nothing", filepath.Join(t.TempDir(), "nothing"), nil, nil, filepath.Join(t.TempDir(), "log"))
	require.ErrorContains(t, err, "is missing")
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	polite := start(t, "sleep 60")
	rss, err := polite.PeakRSS()
	require.NoError(t, err)
	require.Positive(t, rss)
	require.NoError(t, polite.Stop(30*time.Second))
	require.True(t, polite.Exited())

	// The trap is inherited by sleep, so the whole group ignores SIGTERM.
	stubborn := start(t, "trap '' TERM; echo trapped; sleep 60")
	require.Eventually(t, func() bool { return strings.Contains(stubborn.Log(), "trapped") }, time.Minute, 10*time.Millisecond)
	require.ErrorContains(t, stubborn.Stop(500*time.Millisecond), "did not stop")
	require.True(t, stubborn.Exited())
}

func TestKillGroupsKillsOnlyWhatItStarted(t *testing.T) {
	alive := start(t, "sleep 60")
	reused := start(t, "sleep 60")
	dead := start(t, "true")
	exited(t, dead)
	record := func(p *proc.Process) proc.Record {
		r, err := proc.RecordOf(p.Name, p.Pid())
		if p == dead {
			require.Error(t, err)
			return proc.Record{Pid: p.Pid(), Start: "1"}
		}
		require.NoError(t, err)
		parsed, err := proc.ParseRecord(r.String())
		require.NoError(t, err)
		require.Equal(t, r, parsed)
		return r
	}
	// A pid whose process is not the one recorded (its start time differs), as after pid reuse.
	other := record(reused)
	other.Start += "0"
	require.False(t, other.Running())
	require.True(t, record(alive).Running())

	require.Equal(t, 1, proc.KillGroups([]proc.Record{record(alive), other, record(dead)}))
	exited(t, alive)
	require.False(t, reused.Exited(), "a process that only shares a recorded pid is left alone")
}

func TestWait(t *testing.T) {
	dead := start(t, "exit 1")
	exited(t, dead)
	alive := start(t, "sleep 60")
	calls := 0
	for _, tc := range []struct {
		name    string
		within  time.Duration
		running []*proc.Process
		check   func(context.Context) error
		want    string
	}{
		{"passes on a later poll", time.Minute, []*proc.Process{alive}, func(context.Context) error {
			calls++
			if calls < 3 {
				return errors.New("not yet")
			}
			return nil
		}, ""},
		{"a process exited", time.Minute, []*proc.Process{alive, dead}, func(context.Context) error { return errors.New("not yet") },
			"sh exited while waiting for the thing"},
		{"times out with the last error", 600 * time.Millisecond, nil, func(context.Context) error { return errors.New("still not") },
			"timed out after 600ms waiting for the thing (last: still not)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := proc.Wait(context.Background(), "the thing", tc.within,
				func() []*proc.Process { return tc.running }, tc.check)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// CPUTime counts what a process computes, not the time it waits.
func TestCPUTime(t *testing.T) {
	sleeper := start(t, "sleep 60")
	busy := start(t, "while :; do :; done")
	t.Cleanup(func() { sleeper.Kill(); busy.Kill() })
	require.Eventually(t, func() bool {
		used, err := busy.CPUTime()
		return err == nil && used >= 200*time.Millisecond
	}, time.Minute, 50*time.Millisecond, "a busy loop uses CPU")
	idle, err := sleeper.CPUTime()
	require.NoError(t, err)
	require.Less(t, idle, 100*time.Millisecond, "sleep uses none")
}
