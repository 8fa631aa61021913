package nfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
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
	desiredpkg "github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// Finalizer holds an NFSServer until its cluster-scoped binding and, per its reclaim policy, its claim are gone.
const Finalizer = "storageos.com/nfsserver-cleanup"

// LegacyFinalizer is the original operator's; an NFSServer it served carries it, and ours replaces it.
const LegacyFinalizer = "finalizer.nfsserver.storageos.com"

// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=nfsservers/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// The reclaim policy and mount options of the volume bound to a claim the operator created, and nothing else.
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=patch
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors,verbs=get;create;update;patch

// Reconciler reconciles NFSServers.
type Reconciler struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	Mapper   meta.RESTMapper
	// Getenv looks up RELATED_IMAGE_NFS; os.Getenv in the binary.
	Getenv func(string) string
	// DefaultK8sDistro is the k8sDistro of clusters that name none, as the cluster controller's.
	DefaultK8sDistro string

	applier *ssa.Applier
	// live reads what the cache does not hold: a claim the spec names, which is not the operator's.
	live client.Reader
	// volumes applies the reclaim policy and mount options of bound volumes, which are not cached: it
	// remembers what it applied so that an unchanged setting is not sent again.
	volumes *ssa.Memo
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
	r.Mapper = mgr.GetRESTMapper()
	if r.Getenv == nil {
		r.Getenv = os.Getenv
	}
	r.applier = ssa.New(r.Client, mgr.GetAPIReader(), r.Scheme, names.ClusterManager).AdoptFrom(names.LegacyOperator)
	r.live = mgr.GetAPIReader()
	r.volumes = ssa.NewMemo()
	byServerLabel := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[LabelServer]
		if name == "" || o.GetLabels()[names.LabelComponent] != component {
			return nil
		}
		ns := o.GetNamespace()
		if ns == "" {
			ns = o.GetLabels()[LabelServerNamespace]
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nfsserver").
		For(&storageosv1.NFSServer{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		// The claim and the SCC binding have no owner reference; the pods are the StatefulSet's.
		Watches(&corev1.PersistentVolumeClaim{}, byServerLabel).
		Watches(&rbacv1.ClusterRoleBinding{}, byServerLabel).
		Watches(&corev1.Pod{}, byServerLabel).
		// The cluster's spec gives the default image and class, placement, fencing and pause; its status, which
		// changes far more often, gives the servers nothing.
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
		wasReady := meta.FindStatusCondition(before.Status.Conditions, ConditionReady)
		wasReconciled := meta.FindStatusCondition(before.Status.Conditions, ConditionReconciled)
		setStatus(nfs, o)
		r.announce(nfs, wasReady, wasReconciled)
		reterr = errors.Join(reterr, kube.PatchStatus(ctx, r.Client, names.ClusterManager, before, nfs))
	}()

	if !nfs.DeletionTimestamp.IsZero() {
		o.deleting = true
		return ctrl.Result{}, r.reconcileDelete(ctx, nfs)
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
	if err := r.observe(ctx, nfs, &o); err != nil {
		return ctrl.Result{}, err
	}
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

// announce sends the events of the original operator, once per transition of the conditions they follow.
func (r *Reconciler) announce(nfs *storageosv1.NFSServer, wasReady, wasReconciled *metav1.Condition) {
	ready := meta.FindStatusCondition(nfs.Status.Conditions, ConditionReady)
	reconciled := meta.FindStatusCondition(nfs.Status.Conditions, ConditionReconciled)
	if reconciled.Reason == ReasonDeleting {
		if wasReconciled == nil || wasReconciled.Reason != ReasonDeleting {
			r.Recorder.Eventf(nfs, nil, corev1.EventTypeNormal, cluster.EventTerminating, "Delete", "Deleting the NFS server.")
		}
		return
	}
	if reconciled.Reason == ReasonApplyFailed && (wasReconciled == nil || wasReconciled.Message != reconciled.Message) {
		r.Recorder.Eventf(nfs, nil, corev1.EventTypeWarning, cluster.EventFailedCreation, "Reconcile", "%s", reconciled.Message)
	}
	nowReady := ready.Status == metav1.ConditionTrue
	if nowReady == (wasReady != nil && wasReady.Status == metav1.ConditionTrue) && (!nowReady || wasReady.Message == ready.Message) {
		return
	}
	if nowReady {
		r.Recorder.Eventf(nfs, nil, corev1.EventTypeNormal, cluster.EventChangedStatus, "Ready",
			"NFS server is now functional: %s", nfs.Status.RemoteTarget)
	} else if wasReady != nil && wasReady.Status == metav1.ConditionTrue {
		r.Recorder.Eventf(nfs, nil, corev1.EventTypeWarning, cluster.EventChangedStatus, "NotReady",
			"NFS server is not ready: %s", ready.Message)
	}
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

// apply converges the server's objects, in order, and the settings of its volume.
func (r *Reconciler) apply(ctx context.Context, nfs *storageosv1.NFSServer, active *storageosv1.StorageOSCluster) error {
	// A claim's class cannot change: pin the class of the claim the operator creates in the spec, as the
	// original did, so a later change of the cluster's default does not break the server (and the STORAGECLASS
	// column says what it uses).
	if OwnsClaim(nfs) && nfs.Spec.StorageClassName == "" {
		patchBase := nfs.DeepCopy()
		nfs.Spec.StorageClassName = string(active.Spec.StorageClassName)
		if err := r.Client.Patch(ctx, nfs, client.MergeFromWithOptions(patchBase, client.MergeFromWithOptimisticLock{}),
			client.FieldOwner(names.ClusterManager)); err != nil {
			return fmt.Errorf("setting spec.storageClassName: %w", err)
		}
	}
	in := Input{Server: nfs, Cluster: active, Getenv: r.Getenv, ServiceMonitors: r.serviceMonitorsServed()}
	// Every object is applied even when one fails: a claim that refuses to grow must not hold back a new
	// export configuration.
	var errs []error
	for _, obj := range Objects(in) {
		_, adopted, err := r.applier.ApplyAdopting(ctx, obj)
		if _, optional := obj.(*unstructured.Unstructured); optional && (apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
			// The ServiceMonitor kind went away since the REST mapper saw it: nothing to monitor with.
			err = nil
		}
		if _, isClaim := obj.(*corev1.PersistentVolumeClaim); isClaim && err != nil {
			err = fmt.Errorf("spec.resources.requests.storage %s: %w", ptr.To(Capacity(nfs)), err)
		}
		errs = append(errs, err)
		if adopted {
			r.Recorder.Eventf(nfs, nil, corev1.EventTypeNormal, cluster.EventAdopted, "Adopt",
				"took over %s %s from the original operator", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The SCC binding goes when the cluster is no longer on OpenShift.
	keep := map[string]bool{ssa.Key(rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), sccBinding(in)): desiredpkg.IsOpenShift(active)}
	if _, err := r.applier.Prune(ctx, []client.ObjectList{&rbacv1.ClusterRoleBindingList{}}, bindingSelector(nfs), keep); err != nil {
		return err
	}
	return r.applyVolumeSettings(ctx, nfs)
}

func bindingSelector(nfs *storageosv1.NFSServer) client.MatchingLabels {
	return client.MatchingLabels{LabelServer: nfs.Name, LabelServerNamespace: nfs.Namespace}
}

// applyVolumeSettings sets the reclaim policy and mount options on the volume bound to the claim the operator
// created, once it is bound.
func (r *Reconciler) applyVolumeSettings(ctx context.Context, nfs *storageosv1.NFSServer) error {
	if !OwnsClaim(nfs) {
		return nil
	}
	claim := &corev1.PersistentVolumeClaim{}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: nfs.Namespace, Name: ClaimName(nfs)}, claim); err != nil {
		return client.IgnoreNotFound(err)
	}
	settings := VolumeSettings(nfs, claim.Spec.VolumeName)
	if settings == nil || claim.Status.Phase != corev1.ClaimBound {
		return nil
	}
	return r.volumes.Do(settings, func() error {
		err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(settings),
			client.FieldOwner(names.ClusterManager), client.ForceOwnership)
		if err != nil {
			return fmt.Errorf("setting persistentVolumeReclaimPolicy and mountOptions on PersistentVolume %s: %w", settings.GetName(), err)
		}
		return nil
	})
}

// serviceMonitorsServed is whether the Prometheus operator's ServiceMonitor kind exists in the cluster.
func (r *Reconciler) serviceMonitorsServed() bool {
	_, err := r.Mapper.RESTMapping(schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}, "v1")
	return err == nil
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
