package v1

// Condition types and reasons shared by the storageos.com kinds. Every condition carries the
// observedGeneration of the spec it describes.
const (
	// ConditionReady is True when the object's desired state is fully realised.
	ConditionReady = "Ready"

	// ReasonReconciling is used while the desired state is being applied.
	ReasonReconciling = "Reconciling"
	// ReasonReconciled is used once the desired state has been applied.
	ReasonReconciled = "Reconciled"
)
