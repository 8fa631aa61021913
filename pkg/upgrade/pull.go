package upgrade

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

const (
	// PullJobName is the Job that pre-pulls newImage on every StorageOS node; one upgrade runs at a time.
	PullJobName = "storageos-upgrade-image-pull"
	// PullCompletionWord is what the pull pod prints once it runs, that is once its image was pulled.
	PullCompletionWord = "storageos-upgrade-image-pulled"
	// LabelUpgrade marks objects created for an upgrade with the upgrade's UID.
	LabelUpgrade = "storageos.com/upgrade-uid"
)

// PullJob runs newImage itself on every node the node DaemonSet runs on (its node selector terms and
// tolerations): for the pod to start, the kubelet pulls the image through the node's container runtime, so no
// Docker or runtime socket is mounted and it works on containerd and CRI-O alike. The pod only prints the
// completion word and sleeps; it needs a POSIX shell in the image, which StorageOS node images have.
func PullJob(u *storageosv1.StorageOSUpgrade, node *appsv1.DaemonSet) *storageosv1.Job {
	var terms []corev1.NodeSelectorTerm
	if a := node.Spec.Template.Spec.Affinity; a != nil && a.NodeAffinity != nil &&
		a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	return &storageosv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:      PullJobName,
			Namespace: node.Namespace,
			Labels: map[string]string{
				names.LabelManagedBy: names.UpgradeManager,
				names.LabelPartOf:    "storageos",
				LabelUpgrade:         string(u.UID),
			},
		},
		Spec: storageosv1.JobSpec{
			Image:             u.Spec.NewImage,
			Command:           []string{"/bin/sh", "-c", "echo " + PullCompletionWord + "; while true; do sleep 3600; done"},
			CompletionWord:    PullCompletionWord,
			LabelSelector:     "app=storageos-upgrade-image-pull",
			NodeSelectorTerms: terms,
			Tolerations:       node.Spec.Template.Spec.Tolerations,
		},
	}
}
