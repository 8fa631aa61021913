package upgrade

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
)

// SkipMaintenanceAnnotation set to "true" on an upgrade lets its deletion finish without disabling StorageOS
// maintenance mode, for when the StorageOS API cannot be reached.
const SkipMaintenanceAnnotation = "storageos.com/skip-maintenance-disable"

// finalize (step h) undoes what a deleted upgrade did to the cluster: its image pull Job goes, applications of
// an interrupted upgrade are scaled back first, then maintenance mode is disabled and the cluster unpaused. An
// upgrade that never paused the cluster (blocked, or refused) leaves the pause alone: another upgrade may
// hold it.
func (r *Reconciler) finalize(ctx context.Context, u *storageosv1.StorageOSUpgrade) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(u, Finalizer) {
		return ctrl.Result{}, nil
	}
	// The status (a cleanup failure) is written by Reconcile's deferred patch.
	if u.Status.Cluster != nil {
		if err := r.undo(ctx, u); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{}, err // an application changed since the cache saw it: again, from the newer one
			}
			if setCondition(u, ConditionProgressing, metav1.ConditionTrue, ReasonFinalizing, "cleaning up: "+err.Error()) {
				r.Recorder.Eventf(u, nil, corev1.EventTypeWarning, EventFinalizeError, "Cleanup",
					"could not restore the cluster, retrying: %v", err)
			}
			// Timed from the deletion, as a waiting step is from its start: the cause (the StorageOS API down)
			// may last.
			return ctrl.Result{RequeueAfter: backoff(time.Since(u.DeletionTimestamp.Time), r.PollInterval, r.MaxPollInterval)}, nil
		}
	}
	return ctrl.Result{}, kube.RemoveFinalizer(ctx, r.Client, u, Finalizer)
}

func (r *Reconciler) undo(ctx context.Context, u *storageosv1.StorageOSUpgrade) error {
	if u.Status.Phase != storageosv1.UpgradePhaseCompleted && u.Status.Phase != storageosv1.UpgradePhaseFailed {
		if _, err := r.restoreWorkloads(ctx, u); err != nil {
			return err
		}
	}
	c, err := r.getCluster(ctx, u)
	if apierrors.IsNotFound(err) {
		return nil // the cluster is gone, and its maintenance mode with it
	}
	if err != nil {
		return err
	}
	if err := r.deletePullJob(ctx, u, string(c.Spec.Namespace)); err != nil {
		return err
	}
	if !u.Status.ClusterPaused {
		return nil
	}
	// Unpause first: a StorageOS API that cannot be reached must not also keep the cluster-manager stopped.
	if !u.Status.ClusterWasPaused {
		if err := r.setPause(ctx, c, false); err != nil {
			return err
		}
	}
	if u.Annotations[SkipMaintenanceAnnotation] == "true" {
		r.Recorder.Eventf(u, nil, corev1.EventTypeWarning, EventFinalizeError, "Cleanup",
			"%s is set: StorageOS maintenance mode was left as it is; disable it through the StorageOS API", SkipMaintenanceAnnotation)
		return nil
	}
	api, err := r.api(ctx, c)
	if err != nil {
		return err
	}
	if err := api.DisableMaintenance(ctx); err != nil {
		return fmt.Errorf("disabling maintenance mode (annotate the upgrade %s=true to delete it without): %w", SkipMaintenanceAnnotation, err)
	}
	return nil
}
