package upgrade

import (
	"fmt"
	"maps"
	"slices"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// maxDiffLines is how many differences PlanDiff lists; the last line then counts the rest. Its caller puts them
// in an event, whose note is at most 1 kB.
const maxDiffLines = 8

// PlanDiff says how a freshly computed plan differs from the one shown before (a preview's), in words, for the
// event that starts an upgrade from a preview: counts first, then the applications added, removed or
// rescaled, the unstoppable pods and blocking autoscalers that appeared or went, the image and new warnings.
// Only listed entries are compared one by one; the counts cover the rest. Empty when nothing differs.
func PlanDiff(shown, fresh *storageosv1.UpgradePlan) []string {
	var out []string
	count := func(what string, was, is int32) {
		if was != is {
			out = append(out, fmt.Sprintf("%s: %d (was %d)", what, is, was))
		}
	}
	count("applications to scale down", shown.Summary.Applications, fresh.Summary.Applications)
	count("unstoppable pods", shown.Summary.UnstoppablePods, fresh.Summary.UnstoppablePods)
	count("blocking autoscalers", shown.Summary.BlockingAutoscalers, fresh.Summary.BlockingAutoscalers)
	count("nodes", shown.Summary.Nodes, fresh.Summary.Nodes)
	if shown.FromImage != fresh.FromImage {
		out = append(out, fmt.Sprintf("the cluster runs %s (was %s)", fresh.FromImage, shown.FromImage))
	}

	app := func(a storageosv1.PlannedApplication) string {
		return fmt.Sprintf("%s %s/%s", a.Kind, a.Namespace, a.Name)
	}
	was := keyed(shown.Applications, app)
	is := keyed(fresh.Applications, app)
	for _, k := range slices.Sorted(maps.Keys(is)) {
		switch old, ok := was[k]; {
		case !ok:
			out = append(out, fmt.Sprintf("%s added (%s)", k, quantity(is[k].Replicas, "replica", "replicas")))
		case old.Replicas != is[k].Replicas:
			out = append(out, fmt.Sprintf("%s: %s (was %d)", k, quantity(is[k].Replicas, "replica", "replicas"), old.Replicas))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(was)) {
		if _, ok := is[k]; !ok {
			out = append(out, k+" removed")
		}
	}

	pod := func(u storageosv1.UnstoppablePod) string { return "unstoppable pod " + u.Namespace + "/" + u.Name }
	out = append(out, appearedAndGone(keyed(shown.UnstoppablePods, pod), keyed(fresh.UnstoppablePods, pod))...)
	blocking := func(a storageosv1.PlannedAutoscaler) string {
		if a.Handling != storageosv1.AutoscalerHandlingBlocks {
			return "" // dropped below: only those that hold the upgrade back matter to the user here
		}
		return "blocking autoscaler " + a.Namespace + "/" + a.Name
	}
	wasBlocking, isBlocking := keyed(shown.Autoscalers, blocking), keyed(fresh.Autoscalers, blocking)
	delete(wasBlocking, "")
	delete(isBlocking, "")
	out = append(out, appearedAndGone(wasBlocking, isBlocking)...)

	for _, w := range fresh.Warnings {
		if !slices.Contains(shown.Warnings, w) {
			out = append(out, "warning: "+w)
		}
	}
	if len(out) > maxDiffLines {
		out = append(out[:maxDiffLines-1:maxDiffLines-1], fmt.Sprintf("and %d more differences", len(out)-maxDiffLines+1))
	}
	return out
}

// keyed indexes a list by the name key gives each entry.
func keyed[T any](list []T, key func(T) string) map[string]T {
	out := make(map[string]T, len(list))
	for _, e := range list {
		out[key(e)] = e
	}
	return out
}

// appearedAndGone says which keys appeared and which went, sorted.
func appearedAndGone[T any](was, is map[string]T) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(is)) {
		if _, ok := was[k]; !ok {
			out = append(out, k+" appeared")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(was)) {
		if _, ok := is[k]; !ok {
			out = append(out, k+" is gone")
		}
	}
	return out
}
