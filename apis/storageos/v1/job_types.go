package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobSpec is a task run once on every selected node by a DaemonSet. The task's container prints
// completionWord when it is done and then stays running, so that the DaemonSet does not restart it.
// +kubebuilder:validation:XValidation:rule="has(self.hostPath) == has(self.mountPath)",message="hostPath and mountPath must be set together"
type JobSpec struct {
	// Image is the container image that runs the task.
	// +required
	Image ImageReference `json:"image"`

	// Command replaces the image's entrypoint; the image's own is used when empty.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Command []string `json:"command,omitempty"`

	// Args are passed to the container.
	// +optional
	Args []string `json:"args,omitempty"`

	// HostPath is the path on the host mounted into the container. A task that needs no host directory
	// (such as pulling an image) leaves it and mountPath out.
	// +optional
	HostPath AbsolutePath `json:"hostPath,omitempty"`

	// MountPath is where hostPath is mounted in the container.
	// +optional
	MountPath AbsolutePath `json:"mountPath,omitempty"`

	// CompletionWord is what the container prints to its log when the task is done on its node.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	CompletionWord string `json:"completionWord"`

	// LabelSelector are labels put on the job's pods, written as the original operator wrote them:
	// "key=value[,key=value...]". The job-manager selects its pods by a label of its own, so two Jobs with the same
	// labelSelector never count each other's pods.
	// +kubebuilder:default="daemonset-job=true"
	// +kubebuilder:validation:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule=`self.matches('^\\s*([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\\s*=\\s*(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?\\s*(,\\s*([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\\s*=\\s*(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?\\s*)*$')`,message="labelSelector must be key=value pairs separated by commas, e.g. app=cleanup,tier=x: keys [prefix/]name, names and values at most 63 alphanumerics, '-', '_' or '.'"
	// +kubebuilder:validation:XValidation:rule=`!self.matches('(^|,)\\s*(storageos[.]com/[^=]*|app[.]kubernetes[.]io/managed-by)\\s*=') && !(self.matches('(^|,)\\s*app\\s*=\\s*storageos\\s*(,|$)') && self.matches('(^|,)\\s*kind\\s*=\\s*daemonset\\s*(,|$)'))`,message="labelSelector may not use the operator's labels (storageos.com/*, app.kubernetes.io/managed-by) or the StorageOS node pods' (app=storageos with kind=daemonset): the operator's selectors, the StorageOS API Service's among them, must select only its own pods"
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`

	// NodeSelectorTerms select the nodes the job runs on; every node when empty.
	// +optional
	NodeSelectorTerms []corev1.NodeSelectorTerm `json:"nodeSelectorTerms,omitempty"`

	// Tolerations are added to the job's pods.
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
}

// JobStatus is the progress of a job.
type JobStatus struct {
	// Completed is true once the pod on every selected node has printed completionWord. Defaulted, so that
	// kubectl's COMPLETED column shows false rather than nothing.
	// +kubebuilder:default=false
	// +optional
	Completed bool `json:"completed"`

	// NodesCompleted is how many nodes have finished the task. Defaulted, so that kubectl's DONE column shows 0
	// rather than nothing.
	// +kubebuilder:default=0
	// +optional
	NodesCompleted int32 `json:"nodesCompleted"`

	// NodesTotal is how many nodes the task must run on (0 while no node is selected: the Complete condition
	// says why). Defaulted, so that kubectl's NODES column shows 0 rather than nothing.
	// +kubebuilder:default=0
	// +optional
	NodesTotal int32 `json:"nodesTotal"`

	// CompletedPods are the pods seen to print completionWord, one per node, in node order. Their logs are not
	// read again unless the pod is replaced or its container restarts, which must then print the word again.
	// 120 to 200 bytes a node, by the length of node and pod names: 0.6 to 1 MB at Kubernetes' 5,000 nodes,
	// within etcd's 1.5 MB. Atomic, so that the API server's field management tracks the list as one field
	// rather than 5,000 entries of four on every write.
	// +listType=atomic
	// +optional
	CompletedPods []CompletedPod `json:"completedPods,omitempty"`

	// Conditions are the latest observations of the job's state.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec the status was last reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// CompletedPod is a job pod that printed completionWord.
type CompletedPod struct {
	// Node the pod runs on.
	Node string `json:"node"`
	// Pod is the pod's name.
	Pod string `json:"pod"`
	// UID of the pod, so a replacement pod with the same name is not taken for done.
	UID string `json:"uid"`
	// RestartCount of the job container when the word was seen; a restart must print the word again.
	RestartCount int32 `json:"restartCount"`
}

// The job's DaemonSet and its pods carry the job's name in the storageos.com/job label, which also selects them,
// and label values are at most 63 characters (the DaemonSet's name, <name>-daemonset-job, may be 253; its pods'
// controller-revision-hash label is the hash alone). The name cannot change, so it is checked on create only: a
// Job stored before the rule existed stays deletable.
// +kubebuilder:validation:XValidation:rule="oldSelf.hasValue() || size(self.metadata.name) <= 63",optionalOldSelf=true,fieldPath=".metadata",message="metadata.name must be at most 63 characters: the Job's DaemonSet and pods carry it in their storageos.com/job label"

// Job runs a task once on every selected node (jobs.storageos.com), for example cleaning up
// /var/lib/storageos or pre-pulling an image before an upgrade. Its name is at most 63 characters: its pods
// carry it in a label.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=storageos
// +kubebuilder:printcolumn:name="COMPLETED",type="boolean",JSONPath=".status.completed"
// +kubebuilder:printcolumn:name="DONE",type="integer",JSONPath=".status.nodesCompleted"
// +kubebuilder:printcolumn:name="NODES",type="integer",JSONPath=".status.nodesTotal"
// +kubebuilder:printcolumn:name="IMAGE",type="string",JSONPath=".spec.image",priority=1
// +kubebuilder:printcolumn:name="AGE",type="date",JSONPath=".metadata.creationTimestamp"
type Job struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec cannot change once the Job exists: pods that already printed the completion word ran the old task,
	// so a changed task is a new Job.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Job's spec is immutable: delete the Job and create a new one"
	Spec   JobSpec   `json:"spec"`
	Status JobStatus `json:"status,omitempty"`
}

// JobList is a list of Jobs.
//
// +kubebuilder:object:root=true
type JobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Job `json:"items"`
}
