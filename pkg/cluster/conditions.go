package cluster

// Condition types of a StorageOSCluster: three summaries and one per operand.
const (
	ConditionAvailable      = "Available"
	ConditionProgressing    = "Progressing"
	ConditionDegraded       = "Degraded"
	ConditionNodeReady      = "NodeReady"
	ConditionNodesUpToDate  = "NodesUpToDate"
	ConditionCSIReady       = "CSIReady"
	ConditionSchedulerReady = "SchedulerReady"
	ConditionAPIReady       = "APIReady"
	// ConditionNodesHealthy: every StorageOS node is online with every component alive, as the API reports.
	ConditionNodesHealthy = "NodesHealthy"
	// ConditionFieldsIgnored: fields of the original operator that have no effect on StorageOS v2 are set.
	ConditionFieldsIgnored = "FieldsIgnored"
)

// Reasons.
const (
	ReasonReady              = "Ready"
	ReasonNotReady           = "NotReady"
	ReasonNoNodes            = "NoEligibleNodes"
	ReasonDisabled           = "Disabled"
	ReasonRestartPending     = "RestartPending"
	ReasonUpToDate           = "UpToDate"
	ReasonReconcileFailed    = "ReconcileFailed"
	ReasonAsExpected         = "AsExpected"
	ReasonPaused             = "Paused"
	ReasonApplying           = "Applying"
	ReasonAnotherCluster     = "AnotherClusterActive"
	ReasonCredentialsInvalid = "CredentialsRejected"
	ReasonAPIUnreachable     = "Unreachable"
	ReasonAPIWaiting         = "WaitingForNodes"
	ReasonDeleting           = "Deleting"
	ReasonNodeUnhealthy      = "NodeUnhealthy"
	ReasonNoEffect           = "NoEffectOnV2"
	// ReasonPodSecurityForbidden: spec.namespace enforces a Pod Security level that rejects the node pods.
	ReasonPodSecurityForbidden = "PodSecurityForbidden"
)

// Event reasons, as the original operator named them.
const (
	EventFailedCreation = "FailedCreation"
	EventChangedStatus  = "ChangedStatus"
	EventTerminating    = "Terminating"
	// EventFieldsIgnored is sent when the set of ignored fields changes (FieldsIgnored).
	EventFieldsIgnored = "FieldsIgnored"
	// EventAdopted: an object of the original operator (or its finalizer) was taken over in place.
	EventAdopted = "Adopted"
)
