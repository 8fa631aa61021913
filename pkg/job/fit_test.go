package job

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

func TestFitNodes(t *testing.T) {
	node := func(name string, labels map[string]string, taints ...corev1.Taint) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	controlPlane := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	workers := []corev1.Node{node("a", map[string]string{"role": "worker"}), node("b", map[string]string{"role": "worker"}),
		node("c", nil, controlPlane)}
	worker := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "role", Operator: corev1.NodeSelectorOpIn, Values: []string{"worker"}}}}}
	seedSample := []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "node-role.kubernetes.io/worker", Operator: corev1.NodeSelectorOpIn, Values: []string{"true"}}}}}
	byName := []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
		{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"c"}}}}}
	for _, tc := range []struct {
		name        string
		terms       []corev1.NodeSelectorTerm
		tolerations []corev1.Toleration
		nodes       []corev1.Node
		want        nodeFit
		reason      string
	}{
		{"no nodes", nil, nil, nil, nodeFit{}, "the cluster has no nodes"},
		{"no terms: every node, the tainted one not tolerated", nil, nil, workers,
			nodeFit{total: 3, selected: 3, tolerated: 2, untolerated: []string{"c (node-role.kubernetes.io/control-plane:NoSchedule)"}}, ""},
		{"the seed's sample on nodes without its label", seedSample, nil, workers,
			nodeFit{total: 3}, "0 of 3 nodes match nodeSelectorTerms"},
		{"selected by label", worker, nil, workers, nodeFit{total: 3, selected: 2, tolerated: 2}, ""},
		{"selected by name, tainted", byName, nil, workers,
			nodeFit{total: 3, selected: 1, untolerated: []string{"c (node-role.kubernetes.io/control-plane:NoSchedule)"}},
			"1 of 3 nodes match nodeSelectorTerms, and none is tolerated (tolerations): c (node-role.kubernetes.io/control-plane:NoSchedule)"},
		{"tolerated with Exists", byName, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, workers,
			nodeFit{total: 3, selected: 1, tolerated: 1}, ""},
		{"PreferNoSchedule and node conditions do not keep a DaemonSet pod off", nil, nil,
			[]corev1.Node{node("d", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule},
				corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})},
			nodeFit{total: 1, selected: 1, tolerated: 1}, ""},
		{"many tainted nodes: a few named", nil, nil,
			[]corev1.Node{node("n1", nil, controlPlane), node("n2", nil, controlPlane), node("n3", nil, controlPlane), node("n4", nil, controlPlane)},
			nodeFit{total: 4, selected: 4, untolerated: []string{"n1 (node-role.kubernetes.io/control-plane:NoSchedule)",
				"n2 (node-role.kubernetes.io/control-plane:NoSchedule)", "n3 (node-role.kubernetes.io/control-plane:NoSchedule)"}},
			"4 of 4 nodes match nodeSelectorTerms, and none is tolerated (tolerations): n1 (node-role.kubernetes.io/control-plane:NoSchedule), " +
				"n2 (node-role.kubernetes.io/control-plane:NoSchedule), n3 (node-role.kubernetes.io/control-plane:NoSchedule) and 1 more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := &storageosv1.Job{Spec: storageosv1.JobSpec{NodeSelectorTerms: tc.terms, Tolerations: tc.tolerations}}
			got := fitNodes(job, tc.nodes)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.reason, got.reason())
		})
	}
}
