package nfs

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// observation is what one reconcile saw of a server and its objects.
type observation struct {
	// observed: the reconcile got as far as reading the server's objects (or finished deleting it). Without it
	// the status keeps what was seen last.
	observed bool
	// cluster is the active StorageOSCluster's namespace/name; "" when there is none.
	cluster string
	// paused: the cluster is paused (an upgrade runs), so the server's objects were left as they are.
	paused bool
	// applyErr is why the objects could not be applied.
	applyErr error
	deleting bool

	service *corev1.Service
	// claim is the claim the server mounts; nil when it does not exist.
	claim *corev1.PersistentVolumeClaim
	// pods are the server's pods (its StatefulSet's, in its namespace).
	pods []corev1.Pod
}

// RemoteTarget is what clients mount: the Service's cluster IP and the NFS port.
func RemoteTarget(svc *corev1.Service) string {
	if svc == nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return ""
	}
	return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(NFSPort))
}

// setStatus computes the server's status from what was observed.
func setStatus(nfs *storageosv1.NFSServer, o observation) {
	st := &nfs.Status
	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		kube.SetCondition(&st.Conditions, nfs.Generation, typ, status, reason, msg)
	}
	st.RemoteTarget = RemoteTarget(o.service)
	st.AccessModes = ExportOf(nfs).Access

	switch {
	case o.deleting:
		set(ConditionReconciled, metav1.ConditionFalse, ReasonDeleting, "deleting the NFS server")
	case o.cluster == "":
		set(ConditionReconciled, metav1.ConditionFalse, ReasonNoCluster,
			"no StorageOSCluster in this Kubernetes cluster: the NFS server needs StorageOS to serve its volume")
	case adopting(o.applyErr):
		set(ConditionReconciled, metav1.ConditionFalse, ReasonAdopting, o.applyErr.Error())
	case o.applyErr != nil:
		set(ConditionReconciled, metav1.ConditionFalse, ReasonApplyFailed, o.applyErr.Error())
	case o.paused:
		set(ConditionReconciled, metav1.ConditionFalse, ReasonPaused,
			"StorageOSCluster "+o.cluster+" is paused (an upgrade is running): the server's objects are left as they are")
	default:
		set(ConditionReconciled, metav1.ConditionTrue, ReasonAsExpected, "the server's objects match the spec")
		st.ObservedGeneration = nfs.Generation
	}

	status, reason, msg := readiness(nfs, o)
	set(ConditionReady, status, reason, msg)
	switch {
	case status == metav1.ConditionTrue:
		st.Phase = storageosv1.NFSServerPhaseRunning
	case reason == ReasonPodFailing || reason == ReasonClaimMissing || reason == ReasonClaimLost || permanent(o.applyErr) && !o.deleting:
		// None of these goes away without someone's help.
		st.Phase = storageosv1.NFSServerPhaseFailed
	default:
		st.Phase = storageosv1.NFSServerPhasePending
	}
}

// readiness says whether clients can use the server, and if not, the first thing they wait for.
func readiness(nfs *storageosv1.NFSServer, o observation) (metav1.ConditionStatus, string, string) {
	if o.deleting {
		return metav1.ConditionFalse, ReasonDeleting, "deleting the NFS server"
	}
	claim := ClaimName(nfs)
	switch {
	case o.claim == nil && !OwnsClaim(nfs):
		return metav1.ConditionFalse, ReasonClaimMissing,
			fmt.Sprintf("persistentVolumeClaim.claimName %s does not exist in namespace %s", claim, nfs.Namespace)
	case o.claim == nil:
		return metav1.ConditionFalse, ReasonClaimPending, "waiting for claim " + claim + " to be created"
	case o.claim.Status.Phase == corev1.ClaimLost:
		return metav1.ConditionFalse, ReasonClaimLost,
			fmt.Sprintf("claim %s is Lost: its PersistentVolume is gone, and the data with it", claim)
	case o.claim.Status.Phase != corev1.ClaimBound:
		return metav1.ConditionFalse, ReasonClaimPending,
			fmt.Sprintf("claim %s is %s: waiting for its volume", claim, claimPhase(o.claim))
	}
	if len(o.pods) == 0 {
		return metav1.ConditionFalse, ReasonNoPod, "waiting for the StatefulSet to create the server pod"
	}
	pod := &o.pods[0]
	if failure := kube.PodFailure(pod, ContainerName); failure != "" {
		return metav1.ConditionFalse, ReasonPodFailing, "pod " + pod.Name + ": " + failure
	}
	if pod.Spec.NodeName == "" {
		msg := "pod " + pod.Name + " is not scheduled"
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				msg += ": " + c.Message
			}
		}
		return metav1.ConditionFalse, ReasonPodPending, msg
	}
	if !kube.PodReady(pod) {
		return metav1.ConditionFalse, ReasonPodNotReady, "pod " + pod.Name + " on " + pod.Spec.NodeName + " is not ready"
	}
	if RemoteTarget(o.service) == "" {
		return metav1.ConditionFalse, ReasonNoService, "waiting for Service " + nfs.Name + " to get a cluster IP"
	}
	return metav1.ConditionTrue, ReasonReady, "serving /" + ExportOf(nfs).Ref + " at " + RemoteTarget(o.service)
}

// permanent: Kubernetes refuses what the spec asks (a claim that cannot shrink or grow, an object in the way),
// which no retry changes; anything else (a timeout, an API server restarting) may pass.
func permanent(err error) bool {
	var notOurs *ssa.NotOursError
	return apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || errors.As(err, &notOurs)
}

// adopting: the object of the original operator being replaced is not gone yet; not a failure.
func adopting(err error) bool {
	var waiting *ssa.WaitingForLegacyError
	return errors.As(err, &waiting)
}

func claimPhase(c *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimPhase {
	if c.Status.Phase == "" {
		return corev1.ClaimPending
	}
	return c.Status.Phase
}
