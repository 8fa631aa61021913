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
)

// Event reasons, as the original operator named them.
const (
	EventFailedCreation = "FailedCreation"
	EventChangedStatus  = "ChangedStatus"
	EventTerminating    = "Terminating"
)
