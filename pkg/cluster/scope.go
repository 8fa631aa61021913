package cluster

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// scope is what one reconcile of one cluster knows: the object, the status it started from (for one patch at
// the end), the desired-state input, and what went wrong.
type scope struct {
	cluster *storageosv1.StorageOSCluster
	base    *storageosv1.StorageOSCluster
	input   desired.Input

	// observed is what this reconcile read of the deployment; nil when it did not get that far.
	observed  *observation
	paused    bool
	blockedBy string
	err       error
	deleting  bool
}

func newScope(c *storageosv1.StorageOSCluster) *scope {
	return &scope{cluster: c, base: c.DeepCopy()}
}

// refreshBase follows an update of the object (the finalizer), so the status patch starts from it.
func (s *scope) refreshBase(c *storageosv1.StorageOSCluster) {
	s.base = c.DeepCopy()
}

func (s *scope) failed(err error) { s.err = err }

// setCondition stamps the condition with the generation it describes.
func (s *scope) setCondition(typ string, status metav1.ConditionStatus, reason, message string) {
	kube.SetCondition(&s.cluster.Status.Conditions, s.cluster.Generation, typ, status, reason, message)
}

func (s *scope) isTrue(typ string) bool {
	return meta.IsStatusConditionTrue(s.cluster.Status.Conditions, typ)
}
