package nfs

import (
	"context"
	"errors"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// Finalizer holds an NFSServer until the claim the operator created is deleted, unless its reclaim policy is
// Retain; everything else the server has is owned by it.
const Finalizer = "storageos.com/nfsserver-cleanup"

// LegacyFinalizer is the original operator's; an NFSServer it served carries it, and ours replaces it.
const LegacyFinalizer = "finalizer.nfsserver.storageos.com"

// The NFS controller's RBAC: every write is a patch (server-side apply creates through it, hence create).
// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers/status,verbs=get;patch
// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers/finalizers,verbs=update
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services;configmaps;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames="storageos:openshift-scc"
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The reclaim policy and mount options of the volume bound to a claim the operator created, and nothing else.
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=patch
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;create;patch

// Reconciler reconciles NFSServers.
type Reconciler struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	// Getenv looks up RELATED_IMAGE_NFS; os.Getenv in the binary.
	Getenv func(string) string
	// DefaultK8sDistro is the k8sDistro of clusters that name none, as the cluster controller's.
	DefaultK8sDistro string
	// DiscoveryInterval is how long the answer to "is the ServiceMonitor kind served?" is kept (5 minutes by
	// default): a Prometheus operator installed later is noticed within it.
	DiscoveryInterval time.Duration

	applier *ssa.Applier
	// live reads what the cache does not hold: a claim the spec names, which is not the operator's.
	live client.Reader
	// volumes applies the reclaim policy and mount options of bound volumes, which are not cached: it
	// remembers what it applied so that an unchanged setting is not sent again.
	volumes *ssa.Memo
	// monitors remembers for a while whether the ServiceMonitor kind is served, which costs a discovery
	// request to find out where it is not.
	monitors servedKind
}

// CacheOptions adds what the NFS controller reads to the cluster-manager's cache: the claims it created (its
// other objects are kinds the cluster controller already caches by the same managed-by label).
func CacheOptions(base cache.Options) cache.Options {
	if base.ByObject == nil {
		base.ByObject = map[client.Object]cache.ByObject{}
	}
	base.ByObject[&corev1.PersistentVolumeClaim{}] = cache.ByObject{
		Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.ClusterManager}),
	}
	return base
}

// Setup registers the NFSServer controller on a manager whose cache was built with CacheOptions.
func Setup(_ context.Context, mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Scheme, r.Recorder = mgr.GetClient(), mgr.GetScheme(), mgr.GetEventRecorder(names.ClusterManager)
	if r.Getenv == nil {
		r.Getenv = os.Getenv
	}
	r.applier = ssa.New(r.Client, mgr.GetAPIReader(), r.Scheme, names.ClusterManager).AdoptFrom(names.LegacyOperator)
	r.live = mgr.GetAPIReader()
	r.volumes = ssa.NewMemo()
	if r.DiscoveryInterval == 0 {
		r.DiscoveryInterval = 5 * time.Minute
	}
	r.monitors = servedKind{mapper: mgr.GetRESTMapper(), recheck: r.DiscoveryInterval,
		kind: schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}}
	byServerLabel := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[LabelServer]
		if name == "" || o.GetLabels()[names.LabelComponent] != component {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nfsserver").
		For(&storageosv1.NFSServer{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.RoleBinding{}).
		// The claim has no owner reference (its reclaim policy decides its fate); the pods are the StatefulSet's.
		// A ServiceMonitor is not watched: its kind may not exist. A hand edit of it is undone at the server's
		// next reconcile.
		Watches(&corev1.PersistentVolumeClaim{}, byServerLabel).
		Watches(&corev1.Pod{}, byServerLabel).
		// The cluster's spec gives the default image and class, placement, fencing and pause. Its status changes
		// far more often and matters only when there are several clusters (which one is active).
		Watches(&storageosv1.StorageOSCluster{}, handler.EnqueueRequestsFromMapFunc(r.allServers),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

func (r *Reconciler) allServers(ctx context.Context, _ client.Object) []reconcile.Request {
	var list storageosv1.NFSServerList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile is fetch → delete or finalizer → the active cluster → apply → observe → one status patch, deferred,
// whose error is returned so that a failed write is retried with backoff.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	nfs := &storageosv1.NFSServer{}
	if err := r.Client.Get(ctx, req.NamespacedName, nfs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A server the original operator served carries its finalizer; ours replaces it. No finalizer may be added to
	// an object being deleted, so one deleted before the swap is cleaned up under the original's finalizer.
	if nfs.DeletionTimestamp.IsZero() {
		if _, err := kube.ReplaceFinalizer(ctx, r.Client, nfs, LegacyFinalizer, Finalizer); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := nfs.DeepCopy()
	var o observation
	defer func() {
		if o.observed {
			setStatus(nfs, o)
		} else if reterr != nil && !apierrors.IsConflict(reterr) {
			// Nothing was seen this time: the status keeps what was seen last, and says why this reconcile
			// stopped. A conflict says nothing: it is retried at once from the newer object.
			kube.SetCondition(&nfs.Status.Conditions, nfs.Generation, ConditionReconciled, metav1.ConditionFalse,
				ReasonReconcileError, reterr.Error())
		}
		// Locked on the object as read: a status computed from a stale cache is refused, not written, and its
		// events are not sent.
		if err := kube.PatchStatus(ctx, r.Client, names.ClusterManager, before, nfs, client.MergeFromWithOptimisticLock{}); err != nil {
			reterr = errors.Join(reterr, kube.IgnoreConflict(err))
			return
		}
		for _, e := range transitions(before, nfs) {
			r.Recorder.Eventf(nfs, nil, e.kind, e.reason, e.action, "%s", e.note)
		}
	}()

	if !nfs.DeletionTimestamp.IsZero() {
		o.deleting = true
		err := r.reconcileDelete(ctx, nfs)
		o.observed = err == nil
		return ctrl.Result{}, err
	}
	if _, err := kube.AddFinalizer(ctx, r.Client, nfs, Finalizer); err != nil {
		return ctrl.Result{}, err
	}

	active, err := r.activeCluster(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	if active != nil {
		o.cluster = active.Namespace + "/" + active.Name
		o.paused = active.Spec.Pause
		if !o.paused {
			o.applyErr = r.apply(ctx, nfs, active)
		}
	}
	if apierrors.IsConflict(o.applyErr) {
		return ctrl.Result{}, o.applyErr
	}
	if err := r.observe(ctx, nfs, &o); err != nil {
		return ctrl.Result{}, err
	}
	o.observed = true
	if o.applyErr == nil && !OwnsClaim(nfs) && (o.claim == nil || o.claim.Status.Phase != corev1.ClaimBound) {
		// A claim that is not the operator's is not watched: look again for it.
		return ctrl.Result{RequeueAfter: claimRecheck}, nil
	}
	return ctrl.Result{}, o.applyErr
}

// claimRecheck is how often a server whose named claim is missing or unbound looks at it again.
const claimRecheck = 30 * time.Second

func (r *Reconciler) claimReader(nfs *storageosv1.NFSServer) client.Reader {
	if OwnsClaim(nfs) {
		return r.Client
	}
	return r.live
}

func (r *Reconciler) activeCluster(ctx context.Context) (*storageosv1.StorageOSCluster, error) {
	var list storageosv1.StorageOSClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	active := cluster.Active(list.Items)
	if active == nil {
		return nil, nil
	}
	return cluster.WithDefaultDistro(active, r.DefaultK8sDistro), nil
}

// observe reads the server's Service, claim and pods.
func (r *Reconciler) observe(ctx context.Context, nfs *storageosv1.NFSServer, o *observation) error {
	svc := &corev1.Service{}
	switch err := r.Client.Get(ctx, types.NamespacedName{Namespace: nfs.Namespace, Name: nfs.Name}, svc); {
	case err == nil:
		o.service = svc
	case !apierrors.IsNotFound(err):
		return err
	}
	claim := &corev1.PersistentVolumeClaim{}
	switch err := r.claimReader(nfs).Get(ctx, types.NamespacedName{Namespace: nfs.Namespace, Name: ClaimName(nfs)}, claim); {
	case err == nil:
		o.claim = claim
	case !apierrors.IsNotFound(err):
		return err
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(nfs.Namespace), client.MatchingLabels(PodSelector(nfs))); err != nil {
		return err
	}
	o.pods = pods.Items
	return nil
}
