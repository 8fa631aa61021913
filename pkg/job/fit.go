package job

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// nodeFit is how the cluster's nodes meet a Job's placement: how many there are, how many its nodeSelectorTerms
// select, and how many of those it tolerates the NoSchedule and NoExecute taints of. It says why a DaemonSet
// schedules no pod, which the DaemonSet itself does not.
type nodeFit struct {
	total, selected, tolerated int
	// untolerated names, for a few selected nodes, the taint that keeps the Job's pods off them.
	untolerated []string
}

// maxNamed bounds the nodes named in a message: status stays small on large clusters.
const maxNamed = 3

// fitNodes matches the nodes against the Job's nodeSelectorTerms and tolerations as the scheduler would for its
// DaemonSet's pods (which also get the DaemonSet controller's own tolerations for node conditions: taints of
// not-ready or unreachable nodes do not count here either).
func fitNodes(job *storageosv1.Job, nodes []corev1.Node) nodeFit {
	var selector *nodeaffinity.LazyErrorNodeSelector
	if len(job.Spec.NodeSelectorTerms) > 0 {
		selector = nodeaffinity.NewLazyErrorNodeSelector(&corev1.NodeSelector{NodeSelectorTerms: job.Spec.NodeSelectorTerms})
	}
	schedulingTaints := func(t *corev1.Taint) bool {
		return (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !daemonSetTolerated[t.Key]
	}
	fit := nodeFit{total: len(nodes)}
	for i := range nodes {
		node := &nodes[i]
		if selector != nil {
			if ok, _ := selector.Match(node); !ok {
				continue
			}
		}
		fit.selected++
		taint, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, job.Spec.Tolerations, schedulingTaints, false)
		if !untolerated {
			fit.tolerated++
		} else if len(fit.untolerated) < maxNamed {
			fit.untolerated = append(fit.untolerated, fmt.Sprintf("%s (%s)", node.Name, taint.ToString()))
		}
	}
	slices.Sort(fit.untolerated)
	return fit
}

// daemonSetTolerated are the taints the DaemonSet controller adds tolerations for to every DaemonSet pod.
var daemonSetTolerated = map[string]bool{
	corev1.TaintNodeNotReady:           true,
	corev1.TaintNodeUnreachable:        true,
	corev1.TaintNodeDiskPressure:       true,
	corev1.TaintNodeMemoryPressure:     true,
	corev1.TaintNodePIDPressure:        true,
	corev1.TaintNodeUnschedulable:      true,
	corev1.TaintNodeNetworkUnavailable: true,
}

// reason says why no node runs the Job, or "" when some node should.
func (f nodeFit) reason() string {
	switch {
	case f.total == 0:
		return "the cluster has no nodes"
	case f.selected == 0:
		return fmt.Sprintf("0 of %d nodes match nodeSelectorTerms", f.total)
	case f.tolerated == 0:
		msg := fmt.Sprintf("%d of %d nodes match nodeSelectorTerms, and none is tolerated (tolerations): ", f.selected, f.total)
		for i, u := range f.untolerated {
			if i > 0 {
				msg += ", "
			}
			msg += u
		}
		if f.selected > len(f.untolerated) {
			msg += fmt.Sprintf(" and %d more", f.selected-len(f.untolerated))
		}
		return msg
	}
	return ""
}
