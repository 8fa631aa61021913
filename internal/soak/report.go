package soak

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Report is what a soak did and found: actions and faults by kind, each invariant's checks and violations,
// and how long the cluster took to converge after each kind of fault.
type Report struct {
	Seed int64
	// Duration is the schedule's length, what a replay asks for; Elapsed is how long the soak took, the wait
	// for convergence at the end included.
	Duration, Elapsed time.Duration

	mu      sync.Mutex
	actions map[string]int
	// notDone counts the steps that could not act (the API server restarting under them, nothing to act on).
	notDone    map[string]int
	faults     map[string]int
	checks     map[string]int
	violations map[string][]string
	converge   map[string][]time.Duration
	// unconverged counts faults after which the cluster had not converged when the soak ended.
	unconverged map[string]int
	// peakRSS is each binary's peak resident memory, in the first and the last third of the run.
	peakRSS map[string]*[2]int64
}

func newReport(seed int64, duration time.Duration) *Report {
	return &Report{Seed: seed, Duration: duration, actions: map[string]int{}, notDone: map[string]int{}, faults: map[string]int{}, checks: map[string]int{},
		violations: map[string][]string{}, converge: map[string][]time.Duration{}, unconverged: map[string]int{},
		peakRSS: map[string]*[2]int64{}}
}

func (r *Report) action(kind string)      { r.mu.Lock(); r.actions[kind]++; r.mu.Unlock() }
func (r *Report) fault(kind string)       { r.mu.Lock(); r.faults[kind]++; r.mu.Unlock() }
func (r *Report) couldNotAct(kind string) { r.mu.Lock(); r.notDone[kind]++; r.mu.Unlock() }

// check counts one evaluation of an invariant; a non-empty violation says how it was broken.
func (r *Report) check(invariant, violation string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[invariant]++
	if violation != "" {
		r.violations[invariant] = append(r.violations[invariant], violation)
	}
}

func (r *Report) notConverged(kind string) { r.mu.Lock(); r.unconverged[kind]++; r.mu.Unlock() }

func (r *Report) converged(kind string, after time.Duration) {
	r.mu.Lock()
	r.converge[kind] = append(r.converge[kind], after)
	r.mu.Unlock()
}

// Violations are every invariant's violations, "invariant: what happened".
func (r *Report) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, inv := range sortedKeys(r.violations) {
		for _, v := range r.violations[inv] {
			out = append(out, inv+": "+v)
		}
	}
	return out
}

// Print writes the report as tables.
func (r *Report) Print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(w, "\nsoak: seed %d, %s of actions and faults, %s in all (replay: make soak SEED=%d DURATION=%s)\n",
		r.Seed, r.Duration, r.Elapsed.Round(time.Second), r.Seed, r.Duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nuser action\tcount\tcould not act")
	for _, k := range sortedKeys(r.actions) {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, r.actions[k], r.notDone[k])
	}
	fmt.Fprintln(tw, "\nfault\tcount\tcould not act\tconverged after: p50\tp99\tmax\tnot converged at the end")
	for _, k := range sortedKeys(r.faults) {
		d := r.converge[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\n", k, r.faults[k], r.notDone[k], percentile(d, 50), percentile(d, 99), percentile(d, 100), r.unconverged[k])
	}
	fmt.Fprintln(tw, "\ninvariant\tchecks\tviolations")
	for _, k := range sortedKeys(r.checks) {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, r.checks[k], len(r.violations[k]))
	}
	fmt.Fprintln(tw, "\nbinary\tpeak RSS, first third\tlast third")
	for _, k := range sortedKeys(r.peakRSS) {
		p := r.peakRSS[k]
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, mib(p[0]), mib(p[1]))
	}
	_ = tw.Flush()
	var all []string
	for _, inv := range sortedKeys(r.violations) {
		for _, v := range r.violations[inv] {
			all = append(all, "  "+inv+": "+v)
		}
	}
	if len(all) == 0 {
		fmt.Fprintln(w, "\nsoak: 0 violations")
		return
	}
	fmt.Fprintf(w, "\nsoak: %d violations\n%s\n", len(all), strings.Join(all, "\n"))
}

// percentile is the p-th percentile of durations (nearest rank), "-" for none.
func percentile(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)].Round(100 * time.Millisecond).String()
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
