// Package upgrade is the upgrade-manager's controller: an offline upgrade of the StorageOS cluster to the image
// of a StorageOSUpgrade, created in that StorageOSCluster's namespace (an upgrade anywhere else is refused and
// touches nothing). Every step is written to the upgrade's status before it acts and every step is
// idempotent, so the process may die at any moment and its successor (a restart, or the other replica taking
// the Lease) resumes where the status says, neither repeating nor skipping a step.
package upgrade

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlevent "sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// The upgrade-manager owns StorageOSUpgrades and the image pull Job; it pauses and edits the cluster, scales
// applications, and replaces node pods. What grows with the cluster is read from the cache (list, watch; see
// reads.go): Deployments, StatefulSets, claims, volumes, classes, unfinished pods, and for the plan ReplicaSets
// and Jobs (metadata) and autoscalers. The upgrade, the node DaemonSet, the cluster and the Secret are read from
// the API server, narrowly.
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades/status,verbs=update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosupgrades/finalizers,verbs=update
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;patch
// +kubebuilder:rbac:groups=storageos.com,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;patch
// The plan follows pods to what the user manages through their ReplicaSets and Jobs (metadata only), and
// reports the autoscalers of the applications it scales down.
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=list;watch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=list;watch
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;persistentvolumes,verbs=list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=list;watch
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
	// Client writes, and reads from the cache (CacheOptions): upgrades and Jobs for the watches, workloads,
	// claims, volumes and classes for discovery, unfinished pods, ReplicaSet and batch Job metadata and
	// autoscalers for the plan, the scale-down and the node step (reads.go).
	Client client.Client
	// Reader reads from the API server: the upgrade itself, so a decision is never taken on a stale phase, the
	// cluster, the node DaemonSet, the pull Job when it is deleted, and everything the cache does not hold.
	Reader   client.Reader
	Recorder recorder.EventRecorder
	// API is how the StorageOS APIs are reached (the cluster's Service by default).
	API storageos.Access
	// StepTimeout bounds how long each step may go without progress; a step that goes longer fails the upgrade.
	StepTimeout time.Duration
	// PollInterval is how soon a waiting step first looks again; while nothing changes, the wait between looks
	// doubles up to MaxPollInterval (see backoff.go).
	PollInterval time.Duration
	// MaxPollInterval is the longest a waiting step goes without looking.
	MaxPollInterval time.Duration
	// ControllerName names the controller (default storageosupgrade); names are unique per process.
	ControllerName string

	apis *storageos.Connector
}

// Defaults for the flags of the binary.
const (
	DefaultStepTimeout     = 15 * time.Minute
	DefaultPollInterval    = 2 * time.Second
	DefaultMaxPollInterval = 30 * time.Second
)

// Setup registers the StorageOSUpgrade controller on a manager built with CacheOptions: the clients and the
// recorder come from the manager, and every option left unset gets its default; ctx is the manager's lifetime.
func Setup(ctx context.Context, mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Reader, r.Recorder = mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorder(EventSource)
	if r.StepTimeout <= 0 {
		r.StepTimeout = DefaultStepTimeout
	}
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.MaxPollInterval <= 0 {
		r.MaxPollInterval = DefaultMaxPollInterval
	}
	r.MaxPollInterval = max(r.MaxPollInterval, r.PollInterval)
	if r.ControllerName == "" {
		r.ControllerName = "storageosupgrade"
	}
	apis, err := r.API.Connector()
	if err != nil {
		return err
	}
	r.apis = apis
	for _, obj := range cachedForLooks() {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return err
		}
	}
	if err := registerMetrics(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(r.ControllerName).
		For(&storageosv1.StorageOSUpgrade{}).
		// The pull Job lives in the cluster's namespace, where an owner reference to the upgrade cannot point.
		Watches(&storageosv1.Job{}, handler.EnqueueRequestsFromMapFunc(r.upgradeOfJob)).
		// Scaling down, back up, and the cleanup wait for recorded applications: each change of one (its pods
		// stopping, becoming ready) brings back the upgrades that recorded it, instead of their next poll.
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.upgradesOfWorkload(storageosv1.WorkloadKindDeployment))).
		Watches(&appsv1.StatefulSet{}, handler.EnqueueRequestsFromMapFunc(r.upgradesOfWorkload(storageosv1.WorkloadKindStatefulSet))).
		// An upgrade blocked by another starts as soon as that one is gone.
		Watches(&storageosv1.StorageOSUpgrade{}, handler.EnqueueRequestsFromMapFunc(r.upgradesBehind), builder.WithPredicates(deleted)).
		Complete(r)
}

// deleted lets only deletions through.
var deleted = predicate.Funcs{
	CreateFunc:  func(ctrlevent.CreateEvent) bool { return false },
	UpdateFunc:  func(ctrlevent.UpdateEvent) bool { return false },
	DeleteFunc:  func(ctrlevent.DeleteEvent) bool { return true },
	GenericFunc: func(ctrlevent.GenericEvent) bool { return false },
}

// upgradesOfWorkload maps a Deployment or StatefulSet to the upgrades that recorded it and wait on it: those
// scaling down or back, and those being deleted (their cleanup scales back). Every workload of the cluster is
// watched, so the upgrades are read from the cache, without copies, and most events map to none.
func (r *Reconciler) upgradesOfWorkload(kind storageosv1.WorkloadKind) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		key := workloadKey(storageosv1.ScaledWorkload{Kind: kind, Namespace: o.GetNamespace(), Name: o.GetName()})
		var list storageosv1.StorageOSUpgradeList
		if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			u := &list.Items[i]
			switch u.Status.Phase {
			case storageosv1.UpgradePhaseScalingDown, storageosv1.UpgradePhaseScalingUp, storageosv1.UpgradePhaseRestoring:
			default:
				if u.DeletionTimestamp.IsZero() {
					continue
				}
			}
			for _, w := range u.Status.Workloads {
				if workloadKey(w) == key {
					out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(u)})
					break
				}
			}
		}
		return out
	}
}

// upgradesBehind maps a deleted upgrade to the upgrades of its namespace that have not started: one of them
// may have waited for it.
func (r *Reconciler) upgradesBehind(ctx context.Context, o client.Object) []reconcile.Request {
	var list storageosv1.StorageOSUpgradeList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if p := list.Items[i].Status.Phase; p == "" || p == storageosv1.UpgradePhasePending {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
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

// Reconcile reads the upgrade fresh from the API server and runs the step its phase names. Its status is
// written once, deferred, with the resource version it read, so two writers never both move it on; a conflict
// is returned and retried with backoff, from the newer upgrade.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	u := &storageosv1.StorageOSUpgrade{}
	if err := r.Reader.Get(ctx, req.NamespacedName, u); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := u.DeepCopy()
	var announce *event
	var notes []event
	defer func() {
		if err := kube.PatchStatus(ctx, r.Client, names.UpgradeManager, before, u, client.MergeFromWithOptimisticLock{}); err != nil {
			reterr = errors.Join(reterr, err)
			return
		}
		// Announced once written: the write is what comes before the act.
		if announce != nil {
			r.Recorder.Eventf(u, nil, announce.eventType, announce.reason, announce.action, "%s", announce.message)
		}
		for _, e := range notes {
			r.Recorder.Eventf(u, nil, e.eventType, e.reason, e.action, "%s", e.message)
		}
	}()
	if !u.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, u)
	}
	// The write's own watch event brings the upgrade back.
	if added, err := kube.AddFinalizer(ctx, r.Client, u, Finalizer); err != nil || added {
		return ctrl.Result{}, err
	}

	phase := u.Status.Phase
	step, ok := r.steps()[phase]
	if !ok { // Completed, Failed: nothing more until the upgrade is deleted.
		return ctrl.Result{}, nil
	}
	out, refused := recordedElsewhere(u, phase)
	var err error
	if !refused {
		out, err = step(ctx, u)
	}
	if err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{}, err // another writer (or our own earlier write) moved the upgrade on
		}
		out = wait("%v", err)
	}
	now := metav1.Now()
	announce = transition(u, phase, out, now, r.StepTimeout)
	if out.failure == "" {
		notes = out.events
	}
	if u.Status.Phase != phase {
		ctrl.LoggerFrom(ctx).Info("Upgrade step ended", "step", phase, "next", u.Status.Phase, "failure", out.failure)
		return ctrl.Result{}, nil // the status write's watch event starts the next step
	}
	changed := waitingFor(u) != waitingFor(before)
	return ctrl.Result{RequeueAfter: nextLook(u, changed, now.Time, r.PollInterval, r.MaxPollInterval, r.StepTimeout)}, nil
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

// recordedElsewhere refuses a step that would act on a cluster outside the upgrade's namespace. Preconditions
// record only the cluster of the upgrade's own namespace, so a status naming another one was not written by
// them (whoever may write the status subresource, or an upgrade started before the rule): the steps that act
// on the cluster do not run on it, and the upgrade fails, which scales back what it recorded as scaled down.
// Restoring is left to run, as is the cleanup on deletion: they put back, and act on nothing else.
func recordedElsewhere(u *storageosv1.StorageOSUpgrade, phase storageosv1.UpgradePhase) (outcome, bool) {
	if !active(phase) || phase == storageosv1.UpgradePhaseRestoring {
		return outcome{}, false
	}
	if c := u.Status.Cluster; c == nil || c.Namespace != u.Namespace {
		return outcome{failure: fmt.Sprintf("status.cluster does not name a StorageOSCluster in namespace %s: an upgrade acts only "+
			"on the cluster in its own namespace", u.Namespace), failReason: ReasonClusterNotInNamespace}, true
	}
	return outcome{}, false
}

// getCluster reads the cluster the upgrade recorded. It is the only way any step, restore or cleanup reaches the
// cluster, and it reads only in the upgrade's own namespace: a status naming a cluster elsewhere (status is
// writable apart from the spec) reads as no cluster, so nothing there is paused, unpaused or cleaned up.
func (r *Reconciler) getCluster(ctx context.Context, u *storageosv1.StorageOSUpgrade) (*storageosv1.StorageOSCluster, error) {
	ref := u.Status.Cluster
	if ref == nil {
		return nil, errors.New("status.cluster is not recorded")
	}
	if ref.Namespace != u.Namespace {
		return nil, apierrors.NewNotFound(storageosv1.GroupVersion.WithResource("storageosclusters").GroupResource(), ref.Name)
	}
	c := &storageosv1.StorageOSCluster{}
	err := r.Reader.Get(ctx, types.NamespacedName{Namespace: u.Namespace, Name: ref.Name}, c)
	return c, err
}

// api connects to the cluster's StorageOS API with the credentials of the Secret it names, reusing the
// logged-in client of earlier steps while they have not changed.
func (r *Reconciler) api(ctx context.Context, c *storageosv1.StorageOSCluster) (storageos.API, error) {
	return r.apis.ConnectWithSecret(ctx, r.Reader, c)
}
