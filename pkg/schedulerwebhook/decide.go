// Package schedulerwebhook is the mutating admission webhook that sends pods using StorageOS volumes to the
// StorageOS scheduler, so they land next to their data. It sits on the path of every pod creation, so it
// decides from informer caches only and never denies a pod: when in doubt, the pod is admitted unchanged.
package schedulerwebhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

const (
	// SchedulerName is what a StorageOS pod's schedulerName becomes: the cluster-manager's scheduler extender.
	SchedulerName = names.Scheduler
	// OptOutAnnotation set to "false" on a pod keeps it on its own scheduler.
	OptOutAnnotation = "storageos.com/scheduler"
	// NamespaceOptOutLabel set to NamespaceOptOutValue on a namespace keeps every pod in it on its own
	// scheduler. config/webhook's namespaceSelector already keeps the API server from asking about them; the
	// handler checks it too, because not every registration can carry that selector (OLM's cannot).
	NamespaceOptOutLabel = "storageos.com/scheduler-webhook"
	// NamespaceOptOutValue is the value of NamespaceOptOutLabel that opts a namespace out.
	NamespaceOptOutValue = "disabled"
	defaultScheduler     = corev1.DefaultSchedulerName
)

// Lister answers the decision's questions from caches. A missing object is (nil, nil).
type Lister interface {
	volumes.Lookup
	// SchedulerEnabled reports whether a StorageOSCluster exists with disableScheduler false.
	SchedulerEnabled(ctx context.Context) (bool, error)
	// NamespaceOptedOut reports whether the namespace carries NamespaceOptOutLabel=NamespaceOptOutValue.
	NamespaceOptedOut(ctx context.Context, namespace string) (bool, error)
}

// Decision says whether to set the pod's schedulerName, and why, for logs and metrics.
type Decision struct {
	Mutate bool
	Reason string
}

// Decide whether pod should be scheduled by the StorageOS scheduler.
func Decide(ctx context.Context, pod *corev1.Pod, l Lister) (Decision, error) {
	if pod.Annotations[OptOutAnnotation] == "false" {
		return Decision{Reason: "opted out by annotation"}, nil
	}
	optedOut, err := l.NamespaceOptedOut(ctx, pod.Namespace)
	if err != nil {
		return Decision{}, err
	}
	if optedOut {
		return Decision{Reason: "namespace opted out by label"}, nil
	}
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != defaultScheduler {
		return Decision{Reason: "explicit scheduler " + pod.Spec.SchedulerName}, nil
	}
	uses, err := volumes.PodUsesStorageOS(ctx, pod.Namespace, &pod.Spec, l)
	if err != nil || !uses {
		return Decision{Reason: "no StorageOS volume"}, err
	}
	enabled, err := l.SchedulerEnabled(ctx)
	if err != nil {
		return Decision{}, err
	}
	if !enabled {
		return Decision{Reason: "no StorageOSCluster runs the scheduler"}, nil
	}
	return Decision{Mutate: true, Reason: "uses a StorageOS volume"}, nil
}
