package scale

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/storageos/cluster-operator/internal/demo"
)

// Report holds a run's figures.
type Report struct {
	nodes, apps, cores int
	appNames           []string
	progress           io.Writer // where phase prints

	create, daemonSetFloor time.Duration
	ClusterStatusBytes     int
	SettledWindow          time.Duration
	settling               time.Duration // from the end of the DaemonSet floor to no manager writing
	Settled                map[string]demo.Requests
	appsReady              time.Duration
	webhookP99             time.Duration
	webhookCalls           int
	job, jobAfterLastWord  time.Duration
	jobStatusBytes         int
	JobRequests            map[string]demo.Requests // each manager's, from the Job's creation to its completion
	upgrade, writesFloor   time.Duration
	UpgradeRequests        map[string]demo.Requests
	usage                  map[string]usage
}

// Print writes the table: each figure, its floor where Kubernetes does the same work, and their ratio.
func (r *Report) Print(w io.Writer) {
	ratio := func(ours, floor time.Duration) string {
		if floor <= 0 {
			return ""
		}
		return fmt.Sprintf("%.2f×", ours.Seconds()/floor.Seconds())
	}
	round := func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
	fmt.Fprintf(w, "\nscale: %d simulated nodes, %d StorageOS-backed applications, %d cores\n\n", r.nodes, r.apps, r.cores)
	fmt.Fprintln(w, "| figure | ours | floor (Kubernetes alone, same run) | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	fmt.Fprintf(w, "| StorageOSCluster create → %d/%d Running | %s | plain DaemonSet %d/%d ready: %s | %s |\n",
		r.nodes, r.nodes, round(r.create), r.nodes, r.nodes, round(r.daemonSetFloor), ratio(r.create, r.daemonSetFloor))
	fmt.Fprintf(w, "| cleanup Job on every node → completed | %s (%s after the last pod's word) | | |\n", round(r.job), round(r.jobAfterLastWord))
	fmt.Fprintf(w, "| offline upgrade, %d nodes, %d apps down and back | %s | %d writes of its kind: %s | %s |\n",
		r.nodes, r.apps, round(r.upgrade), 2*r.apps+r.nodes, round(r.writesFloor), ratio(r.upgrade, r.writesFloor))
	fmt.Fprintf(w, "| scheduler webhook p99 (API server's histogram) | %s over %d admissions | | |\n", r.webhookP99, r.webhookCalls)
	fmt.Fprintf(w, "| %d applications created → ready | %s | | |\n", r.apps, round(r.appsReady))
	fmt.Fprintf(w, "| StorageOSCluster status / Job status | %.1f kB / %.1f kB | | |\n",
		float64(r.ClusterStatusBytes)/1024, float64(r.jobStatusBytes)/1024)

	fmt.Fprintf(w, "\n| manager | peak RSS | CPU | settled: requests/min (writes, Lease renewals) | upgrade: requests (writes) |\n|---|---|---|---|---|\n")
	for _, b := range demo.Binaries {
		var names []string
		for name := range r.usage {
			if strings.HasPrefix(name, b) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		var rss, cpu []string
		for _, name := range names {
			rss = append(rss, fmt.Sprintf("%.0f MiB", float64(r.usage[name].peakRSS)/(1<<20)))
			cpu = append(cpu, fmt.Sprintf("%.1f s", r.usage[name].cpu.Seconds()))
		}
		perMinute := func(n int) float64 { return float64(n) / r.SettledWindow.Minutes() }
		s, u := r.Settled[b], r.UpgradeRequests[b]
		fmt.Fprintf(w, "| %s | %s | %s | %.1f (%.1f, %.1f) | %d (%d) |\n", b, strings.Join(rss, ", "), strings.Join(cpu, ", "),
			perMinute(s.Total), perMinute(s.Writes), perMinute(s.LeaseWrites), u.Total, u.Writes)
	}
	fmt.Fprintf(w, "\nsettled (no manager write for %s, %s after the floor) requests by kind, in %s:\n", quiet,
		r.settling.Round(time.Second), r.SettledWindow)
	for _, b := range demo.Binaries {
		fmt.Fprintf(w, "  %-18s %s\n", b, byKind(r.Settled[b].ByKind))
	}
	if job, ok := r.JobRequests["job-manager"]; ok {
		fmt.Fprintf(w, "cleanup Job: the job-manager's requests (%d, %d writes) by kind:\n  %s\n", job.Total, job.Writes, byKind(job.ByKind))
	}
	fmt.Fprintln(w, "upgrade requests by kind:")
	for _, b := range demo.Binaries {
		fmt.Fprintf(w, "  %-18s %s\n", b, byKind(r.UpgradeRequests[b].ByKind))
	}
}

// byKind lists request counts, the most frequent first.
func byKind(counts map[string]int) string {
	kinds := slices.Collect(maps.Keys(counts))
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
