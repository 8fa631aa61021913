package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// UpgradeProgress prints how a StorageOSUpgrade goes, from its status alone, for whoever runs one (make scale):
// a line when its step or the step's figure changes, none while they stay the same, so a long wait does not
// flood the terminal.
type UpgradeProgress struct {
	w    io.Writer
	last string
}

// NewUpgradeProgress prints progress lines to w.
func NewUpgradeProgress(w io.Writer) *UpgradeProgress { return &UpgradeProgress{w: w} }

// Print prints u's progress as of now, if its step or figure changed since the last line.
func (p *UpgradeProgress) Print(u *storageosv1.StorageOSUpgrade, now time.Time) {
	key := string(u.Status.Phase) + "\x00" + u.Status.Progress.Message
	if u.Status.Phase == "" || key == p.last {
		return
	}
	p.last = key
	_, _ = fmt.Fprintln(p.w, UpgradeProgressLine(u, now))
}

// UpgradeProgressLine is one line of an upgrade's progress as of now: its step, the step's figure, and how long
// the step and the upgrade have run, e.g. "upgrade: ScalingDown applications scaled down 120/200 (step 12s,
// upgrade 1m4s)".
func UpgradeProgressLine(u *storageosv1.StorageOSUpgrade, now time.Time) string {
	s := &u.Status
	parts := []string{"upgrade:", string(s.Phase)}
	if s.Progress.Message != "" {
		parts = append(parts, s.Progress.Message)
	}
	var times []string
	if s.PhaseStartTime != nil {
		times = append(times, "step "+since(s.PhaseStartTime.Time, now))
	}
	if s.Progress.StartTime != nil {
		times = append(times, "upgrade "+since(s.Progress.StartTime.Time, now))
	}
	if len(times) > 0 {
		parts = append(parts, "("+strings.Join(times, ", ")+")")
	}
	return strings.Join(parts, " ")
}

// watchUpgrades prints a progress line per step and figure of every StorageOSUpgrade while the demo runs, so
// that whoever applies the sample upgrade sees how far it got, until ctx ends.
func (d *Demo) watchUpgrades(ctx context.Context, every time.Duration) {
	printers := map[types.UID]*UpgradeProgress{}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		var list storageosv1.StorageOSUpgradeList
		if err := d.Client.List(ctx, &list); err != nil {
			continue // the API server restarting, or the CRDs uninstalled: nothing to print
		}
		seen := map[types.UID]bool{}
		for i := range list.Items {
			u := &list.Items[i]
			seen[u.UID] = true
			p, ok := printers[u.UID]
			if !ok {
				p = NewUpgradeProgress(&prefixed{w: d.o.Progress, prefix: "demo: " + u.Namespace + "/" + u.Name + " "})
				printers[u.UID] = p
			}
			p.Print(u, time.Now())
		}
		for uid := range printers {
			if !seen[uid] {
				delete(printers, uid)
			}
		}
	}
}

// prefixed writes each write to w after prefix.
type prefixed struct {
	w      io.Writer
	prefix string
}

func (p *prefixed) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.prefix); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

func since(t, now time.Time) string { return max(now.Sub(t), 0).Round(time.Second).String() }
