// Package schedulerwebhook is the mutating admission webhook that sends pods using StorageOS volumes to the
// StorageOS scheduler, so they land next to their data. It sits on the path of every pod creation, so it
// decides from informer caches only and never denies a pod: when in doubt, the pod is admitted unchanged.
package schedulerwebhook

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/volumes"
)

const (
	// SchedulerName is what a StorageOS pod's schedulerName becomes: the cluster-manager's scheduler extender.
	SchedulerName = names.Scheduler
	// OptOutAnnotation set to "false" on a pod keeps it on its own scheduler.
	OptOutAnnotation = "storageos.com/scheduler"
	defaultScheduler = corev1.DefaultSchedulerName
)

// Lister answers the decision's questions from caches. A missing object is (nil, nil).
type Lister interface {
	PVC(ctx context.Context, namespace, name string) (*corev1.PersistentVolumeClaim, error)
	StorageClass(ctx context.Context, name string) (*storagev1.StorageClass, error)
	DefaultStorageClass(ctx context.Context) (*storagev1.StorageClass, error)
	// SchedulerEnabled reports whether a StorageOSCluster exists with disableScheduler false.
	SchedulerEnabled(ctx context.Context) (bool, error)
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
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != defaultScheduler {
		return Decision{Reason: "explicit scheduler " + pod.Spec.SchedulerName}, nil
	}
	uses, err := usesStorageOS(ctx, pod, l)
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

// usesStorageOS reports whether any PVC or generic ephemeral volume of the pod is of a StorageOS class. A PVC
// that does not exist yet is not StorageOS's (yet): the pod is admitted as it is.
func usesStorageOS(ctx context.Context, pod *corev1.Pod, l Lister) (bool, error) {
	for _, v := range pod.Spec.Volumes {
		var class *string
		switch {
		case v.PersistentVolumeClaim != nil:
			pvc, err := l.PVC(ctx, pod.Namespace, v.PersistentVolumeClaim.ClaimName)
			if err != nil {
				return false, err
			}
			if pvc == nil {
				continue
			}
			class = volumes.ClaimClass(pvc.Spec, pvc.Annotations)
		case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate != nil:
			class = v.Ephemeral.VolumeClaimTemplate.Spec.StorageClassName
		default:
			continue
		}
		sc, err := resolveClass(ctx, class, l)
		if err != nil {
			return false, err
		}
		if sc != nil && volumes.IsStorageOSProvisioner(sc.Provisioner) {
			return true, nil
		}
	}
	return false, nil
}

// resolveClass is the named class, or the default class when none is named. An explicit "" means no class.
func resolveClass(ctx context.Context, name *string, l Lister) (*storagev1.StorageClass, error) {
	if name == nil {
		return l.DefaultStorageClass(ctx)
	}
	if *name == "" {
		return nil, nil
	}
	sc, err := l.StorageClass(ctx, *name)
	if err != nil {
		return nil, fmt.Errorf("storage class %s: %w", *name, err)
	}
	return sc, nil
}
