package upgrade

import (
	"fmt"
	"strings"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// AcceptField is the spec field by which the user accepts taking StorageOS offline under pods the upgrade
// cannot stop; refusals name it.
const AcceptField = "spec.acceptUnstoppablePods"

// namedInMessage is how many pods or autoscalers a message names; the rest are counted. Events' notes are at
// most 1 kB.
const namedInMessage = 5

// BlockingMessage says what holds the upgrade back: the pods it cannot stop and the autoscalers that could start
// an application again, a few by name, and what the user can do. "" when nothing does. The caller refuses to
// start while it is not "" and spec.acceptUnstoppablePods is false.
func BlockingMessage(p *storageosv1.UpgradePlan) string {
	var parts, until []string
	if n := p.Summary.UnstoppablePods; n > 0 {
		names := make([]string, 0, namedInMessage)
		for _, u := range p.UnstoppablePods[:min(len(p.UnstoppablePods), namedInMessage)] {
			names = append(names, fmt.Sprintf("%s/%s (%s)", u.Namespace, u.Name, describeOwner(u)))
		}
		parts = append(parts, fmt.Sprintf("%d %s using StorageOS volumes cannot be stopped by the upgrade: %s",
			n, plural(n, "pod", "pods"), andMore(names, int(n))))
		until = append(until, plural(n, "the pod is", "the pods are")+" gone")
	}
	if n := p.Summary.BlockingAutoscalers; n > 0 {
		var names []string
		for _, a := range p.Autoscalers {
			if a.Handling == storageosv1.AutoscalerHandlingBlocks && len(names) < namedInMessage {
				names = append(names, fmt.Sprintf("%s/%s (of %s %s)", a.Namespace, a.Name, a.TargetKind, a.TargetName))
			}
		}
		parts = append(parts, fmt.Sprintf("%d %s with minReplicas 0 could start %s again while StorageOS is offline: %s",
			n, plural(n, "HorizontalPodAutoscaler", "HorizontalPodAutoscalers"), plural(n, "its application", "their applications"),
			andMore(names, int(n))))
		until = append(until, plural(n, "the autoscaler's", "the autoscalers'")+" minReplicas is at least 1 (or "+plural(n, "it is", "they are")+" deleted)")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + ". StorageOS volumes would stay mounted while its node pods are replaced, which can " +
		"lose the data written to them: the upgrade waits until " + strings.Join(until, " and ") + ", or set " + AcceptField +
		": true to accept the risk"
}

// describeOwner says who owns an unstoppable pod and why that stops the upgrade from stopping it.
func describeOwner(u storageosv1.UnstoppablePod) string {
	switch u.Reason {
	case storageosv1.UnstoppableNoOwner:
		return "no owner"
	case storageosv1.UnstoppableOwnerNotScaled:
		return fmt.Sprintf("%s %s, which the upgrade does not scale down", u.OwnerKind, u.OwnerName)
	case storageosv1.UnstoppableOwnerNotFound:
		return fmt.Sprintf("%s %s, not found", u.OwnerKind, u.OwnerName)
	}
	return u.OwnerKind + " " + u.OwnerName
}

func andMore(names []string, total int) string {
	s := strings.Join(names, ", ")
	if total > len(names) {
		s += fmt.Sprintf(" and %d more", total-len(names))
	}
	return s
}

// quantity is n and the noun in its number: "1 pod", "2 pods".
func quantity[N ~int | ~int32](n N, one, many string) string {
	return fmt.Sprintf("%d %s", n, plural(n, one, many))
}

func plural[N ~int | ~int32](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
