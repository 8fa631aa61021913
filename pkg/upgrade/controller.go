// Package upgrade is the upgrade-manager's controller: an offline upgrade of the StorageOS cluster to the image
// of a StorageOSUpgrade. Every step is written to the upgrade's status before it acts and every step is
// idempotent, so the process may die at any moment and its successor (a restart, or the other replica taking
// the Lease) resumes where the status says, neither repeating nor skipping a step.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The upgrade-manager owns StorageOSUpgrades and the image pull Job; it pauses and edits the cluster, scales
// applications, and replaces node pods. Everything but upgrades and Jobs is read uncached: an upgrade is rare,
// and caching every Deployment and Pod of the cluster for it would cost memory all the time.
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades/status,verbs=update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades/finalizers,verbs=update
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;patch
// +kubebuilder:rbac:groups=storageos.com,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=get;list;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;persistentvolumes,verbs=list
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=list
// The StorageOS API credentials are read from the one Secret the cluster names, never listed or watched.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

const (
	// Finalizer lets a deleted upgrade restore applications, disable maintenance mode and unpause the cluster.
	Finalizer = "storageos.com/upgrade-cleanup"
	// EventSource is the reporting controller of upgrade events, as the original operator named it.
	EventSource = "storageos-upgrader"
	// ReplicasAnnotation on a scaled-down workload records its replica count before the upgrade, next to the
	// upgrade's status, for anyone looking at the workload.
	ReplicasAnnotation = "storageos.com/replicas-before-upgrade"
	// UpgradeAnnotation on a scaled-down workload names the upgrade that scaled it.
	UpgradeAnnotation = "storageos.com/scaled-down-by"
)

// Reconciler runs StorageOSUpgrades.
type Reconciler struct {
	// Client writes, and reads upgrades and Jobs from the cache.
	Client client.Client
	// Reader reads from the API server: the upgrade itself, so a decision is never taken on a stale phase,
	// and everything the cache does not hold.
	Reader   client.Reader
	Recorder recorder.EventRecorder
	// APIEndpoint says where a cluster's StorageOS API is (storageos.ServiceEndpoint by default).
	APIEndpoint func(*storageosv1.StorageOSCluster) string
	// StepTimeout bounds each step; a step that takes longer fails the upgrade.
	StepTimeout time.Duration
	// PollInterval is how often a waiting step looks again.
	PollInterval time.Duration
	// ControllerName names the controller (default storageosupgrade); names are unique per process.
	ControllerName string

	apis *storageos.Connector
}

// Defaults for the flags of the binary.
const (
	DefaultStepTimeout  = 15 * time.Minute
	DefaultPollInterval = 2 * time.Second
)

// CacheOptions limits the cache to the Jobs the upgrade-manager creates.
func CacheOptions() cache.Options {
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&storageosv1.Job{}: {Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.UpgradeManager})},
	}}
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, r *Reconciler) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Reader == nil {
		r.Reader = mgr.GetAPIReader()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(EventSource)
	}
	r.apis = &storageos.Connector{Endpoint: r.APIEndpoint}
	if r.StepTimeout <= 0 {
		r.StepTimeout = DefaultStepTimeout
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.ControllerName == "" {
		r.ControllerName = "storageosupgrade"
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(r.ControllerName).
		For(&storageosv1.StorageOSUpgrade{}).
		// The pull Job lives in the cluster's namespace, where an owner reference to the upgrade cannot point.
		Watches(&storageosv1.Job{}, handler.EnqueueRequestsFromMapFunc(r.upgradeOfJob)).
		Complete(r)
}

// upgradeOfJob maps the pull Job to the upgrade running, found by the UID label.
func (r *Reconciler) upgradeOfJob(ctx context.Context, o client.Object) []reconcile.Request {
	uid := o.GetLabels()[LabelUpgrade]
	if uid == "" {
		return nil
	}
	var list storageosv1.StorageOSUpgradeList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	for _, u := range list.Items {
		if string(u.UID) == uid {
			return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(&u)}}
		}
	}
	return nil
}

// outcome is what a step decided: move to the next phase, wait (saying for what), or fail.
type outcome struct {
	next    storageosv1.UpgradePhase
	waiting string
	failure string
	// failReason overrides the Failed condition's reason (default: the step's phase + "Failed").
	failReason string
}

func advance(p storageosv1.UpgradePhase) outcome { return outcome{next: p} }
func wait(format string, args ...any) outcome    { return outcome{waiting: fmt.Sprintf(format, args...)} }
func fail(format string, args ...any) outcome    { return outcome{failure: fmt.Sprintf(format, args...)} }

// Reconcile reads the upgrade fresh from the API server and runs the step its phase names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := &storageosv1.StorageOSUpgrade{}
	if err := r.Reader.Get(ctx, req.NamespacedName, u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !u.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, u)
	}
	if !controllerutil.ContainsFinalizer(u, Finalizer) {
		before := u.DeepCopy()
		controllerutil.AddFinalizer(u, Finalizer)
		return ctrl.Result{Requeue: true}, r.Client.Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	}

	phase := u.Status.Phase
	orig := u.DeepCopy()
	step, ok := r.steps()[phase]
	if !ok { // Completed, Failed: nothing more until the upgrade is deleted.
		return ctrl.Result{}, nil
	}
	out, err := step(ctx, u)
	// A step that wrote status itself (scaleDown records workloads) moved the resource version on.
	orig.ResourceVersion = u.ResourceVersion
	if err != nil {
		// A conflict means another writer (or our own earlier write) moved the upgrade on: read it again.
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		out = wait("%v", err)
	}
	return r.record(ctx, u, orig, phase, out)
}

// steps are the flow, by the phase in which each runs.
func (r *Reconciler) steps() map[storageosv1.UpgradePhase]func(context.Context, *storageosv1.StorageOSUpgrade) (outcome, error) {
	return map[storageosv1.UpgradePhase]func(context.Context, *storageosv1.StorageOSUpgrade) (outcome, error){
		"":                                   r.preconditions,
		storageosv1.UpgradePhasePending:      r.preconditions,
		storageosv1.UpgradePhasePullingImage: r.pullImage,
		storageosv1.UpgradePhasePausing:      r.pause,
		storageosv1.UpgradePhaseScalingDown:  r.scaleDown,
		storageosv1.UpgradePhaseUpgrading:    r.upgradeNodes,
		storageosv1.UpgradePhaseScalingUp:    r.scaleUp,
		storageosv1.UpgradePhaseRestoring:    r.restore,
	}
}

// record writes the outcome of a step: a phase transition (before the next step acts), a failure, or what the
// step waits for. Writes carry the resource version read at the start, so two writers never both move on.
func (r *Reconciler) record(ctx context.Context, u, before *storageosv1.StorageOSUpgrade, phase storageosv1.UpgradePhase, out outcome) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if out.failure == "" && out.next == "" && active(phase) && phase != storageosv1.UpgradePhaseRestoring &&
		u.Status.PhaseStartTime != nil && time.Since(u.Status.PhaseStartTime.Time) > r.StepTimeout {
		out = fail("timed out after %s: %s", r.StepTimeout, out.waiting)
	}
	u.Status.ObservedGeneration = u.Generation
	switch {
	case out.failure != "":
		if phase == "" {
			phase = storageosv1.UpgradePhasePending
		}
		reason := out.failReason
		if reason == "" {
			reason = string(phase) + "Failed"
		}
		message := fmt.Sprintf("step %s failed: %s", phase, out.failure)
		setCondition(u, ConditionFailed, metav1.ConditionTrue, reason, message)
		next := storageosv1.UpgradePhaseFailed
		if u.Status.ClusterPaused {
			next = storageosv1.UpgradePhaseRestoring
			setCondition(u, ConditionProgressing, metav1.ConditionTrue, ReasonRestoring, "scaling applications back after the failure")
		} else {
			setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonFailed, message)
		}
		u.Status.Phase, u.Status.PhaseStartTime = next, ptrNow()
		if err := r.patchStatus(ctx, u, before); err != nil {
			return requeueOnConflict(err)
		}
		log.Info("Upgrade step failed", "step", phase, "reason", out.failure)
		help := "delete this upgrade to let the cluster run as it is"
		if u.Status.ClusterPaused {
			help = "applications are being scaled back; the cluster stays paused in maintenance mode: fix the cause, " +
				"then delete this upgrade to disable maintenance mode, or delete it and create a new one to retry"
		}
		r.Recorder.Eventf(u, nil, corev1.EventTypeWarning, EventUpgradeFailed, "Fail", "%s; %s", message, help)
		return ctrl.Result{Requeue: true}, nil

	case out.next != "":
		u.Status.Phase, u.Status.PhaseStartTime = out.next, ptrNow()
		r.enter(u, out.next)
		if err := r.patchStatus(ctx, u, before); err != nil {
			return requeueOnConflict(err)
		}
		log.Info("Upgrade step done", "step", phase, "next", out.next)
		r.announce(u, out.next)
		return ctrl.Result{Requeue: true}, nil

	default:
		if active(phase) {
			setCondition(u, ConditionProgressing, metav1.ConditionTrue, string(phase), out.waiting)
		}
		if !equality.Semantic.DeepEqual(before.Status, u.Status) {
			if err := r.patchStatus(ctx, u, before); err != nil {
				return requeueOnConflict(err)
			}
		}
		return ctrl.Result{RequeueAfter: r.PollInterval}, nil
	}
}

// enter sets what a phase's status says from its first moment: this is the write that comes before the act.
func (r *Reconciler) enter(u *storageosv1.StorageOSUpgrade, p storageosv1.UpgradePhase) {
	switch p {
	case storageosv1.UpgradePhasePausing:
		// From here on, deleting the upgrade must undo the pause and maintenance mode.
		u.Status.ClusterPaused = true
	case storageosv1.UpgradePhaseCompleted:
		u.Status.Completed = true
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonCompleted, "the cluster runs "+string(u.Spec.NewImage))
		return
	case storageosv1.UpgradePhaseFailed:
		setCondition(u, ConditionProgressing, metav1.ConditionFalse, ReasonFailed,
			"applications are scaled back; the cluster stays paused in maintenance mode until this upgrade is deleted")
		return
	}
	setCondition(u, ConditionProgressing, metav1.ConditionTrue, string(p), "started")
	if meta.FindStatusCondition(u.Status.Conditions, ConditionFailed) == nil {
		setCondition(u, ConditionFailed, metav1.ConditionFalse, ReasonNoFailure, "no step has failed")
	}
}

// announce emits the event of a phase that has just begun.
func (r *Reconciler) announce(u *storageosv1.StorageOSUpgrade, p storageosv1.UpgradePhase) {
	switch p {
	case storageosv1.UpgradePhasePullingImage:
		r.Recorder.Eventf(u, nil, corev1.EventTypeNormal, EventPullImage, "PullImage", messagePullImage)
	case storageosv1.UpgradePhasePausing:
		r.Recorder.Eventf(u, nil, corev1.EventTypeNormal, EventPauseClusterCtrl, "Pause", messagePauseClusterCtl)
	case storageosv1.UpgradePhaseUpgrading:
		r.Recorder.Eventf(u, nil, corev1.EventTypeNormal, EventUpgradeInit, "Upgrade", messageUpgradeInit, u.Status.Cluster.Name)
	case storageosv1.UpgradePhaseCompleted:
		r.Recorder.Eventf(u, nil, corev1.EventTypeNormal, EventUpgradeComplete, "Complete", messageUpgradeComplete, u.Spec.NewImage)
	}
}

func (r *Reconciler) patchStatus(ctx context.Context, u, before *storageosv1.StorageOSUpgrade) error {
	return r.Client.Status().Patch(ctx, u, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}),
		client.FieldOwner(names.UpgradeManager))
}

// getCluster reads the cluster the upgrade recorded.
func (r *Reconciler) getCluster(ctx context.Context, u *storageosv1.StorageOSUpgrade) (*storageosv1.StorageOSCluster, error) {
	if u.Status.Cluster == nil {
		return nil, errors.New("status.cluster is not recorded")
	}
	c := &storageosv1.StorageOSCluster{}
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: u.Status.Cluster.Namespace, Name: u.Status.Cluster.Name}, c)
	return c, err
}

// api connects to the cluster's StorageOS API with the credentials of the Secret it names, reusing the
// logged-in client of earlier steps while they have not changed.
func (r *Reconciler) api(ctx context.Context, c *storageosv1.StorageOSCluster) (storageos.API, error) {
	secret := &corev1.Secret{}
	if err := r.Reader.Get(ctx, types.NamespacedName{Namespace: string(c.Spec.SecretRefNamespace), Name: string(c.Spec.SecretRefName)}, secret); err != nil {
		return nil, fmt.Errorf("reading the StorageOS API secret %s/%s: %w", c.Spec.SecretRefNamespace, c.Spec.SecretRefName, err)
	}
	return r.apis.Connect(c, storageos.CredentialsFromSecret(secret.Data)), nil
}

func ptrNow() *metav1.Time {
	now := metav1.Now()
	return &now
}

// requeueOnConflict reads the upgrade again after a conflict: someone else moved it on.
func requeueOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}
