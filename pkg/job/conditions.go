package job

// Condition types of a Job, and the reasons of its conditions and events.
const (
	ConditionComplete    = "Complete"
	ConditionPodsHealthy = "PodsHealthy"

	ReasonCompleted  = "Completed"
	ReasonInProgress = "InProgress"
	ReasonWaiting    = "WaitingForPods"
	// ReasonNoNodes: no node is selected by the Job's nodeSelectorTerms, or none of those tolerated.
	ReasonNoNodes     = "NoMatchingNodes"
	ReasonPodsFailing = "PodsFailing"
	ReasonHealthy     = "Healthy"
	// ReasonDaemonSetFailed: the Job's DaemonSet could not be created or updated.
	ReasonDaemonSetFailed = "DaemonSetFailed"
	// ReasonInvalidSpec: the Job's spec cannot be turned into a DaemonSet.
	ReasonInvalidSpec = "InvalidSpec"

	EventJobCompleted = "JobCompleted"
)
