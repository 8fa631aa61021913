package nfs

// Condition types of an NFSServer, and the reasons of its conditions and events.
const (
	// ConditionReady: the server pod is ready and clients can mount status.remoteTarget.
	ConditionReady = "Ready"
	// ConditionReconciled: the server's objects match the spec.
	ConditionReconciled = "Reconciled"

	ReasonReady        = "Ready"
	ReasonNoService    = "WaitingForService"
	ReasonClaimMissing = "ClaimNotFound"
	ReasonClaimPending = "ClaimPending"
	ReasonClaimLost    = "ClaimLost"
	ReasonNoPod        = "WaitingForPod"
	ReasonPodPending   = "PodPending"
	ReasonPodFailing   = "PodFailing"
	ReasonPodNotReady  = "PodNotReady"
	ReasonDeleting     = "Deleting"

	ReasonAsExpected  = "AsExpected"
	ReasonNoCluster   = "NoStorageOSCluster"
	ReasonPaused      = "ClusterPaused"
	ReasonApplyFailed = "ApplyFailed"
	// ReasonReconcileError: the reconcile stopped before it could look at the server's objects (an API error).
	ReasonReconcileError = "ReconcileError"
	// ReasonAdopting: an object of the original operator is being replaced (its immutable fields differ).
	ReasonAdopting = "Adopting"
)

// Events use the cluster's reasons (cluster.EventFailedCreation, EventChangedStatus, EventTerminating,
// EventAdopted), which are the original operator's.
