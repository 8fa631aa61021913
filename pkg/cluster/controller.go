// Package cluster is the cluster-manager's controller: it turns a StorageOSCluster into a running StorageOS
// deployment, keeps it converged with the spec, reports its state and removes it all on delete.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/version"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// legacyUnlabelledCSIDriver is the one object the original operator created without its labels; it is adopted by
// name when it carries no managed-by label.
var legacyUnlabelledCSIDriver = "CSIDriver.storage.k8s.io//" + names.CSIDriver

// Finalizer holds a StorageOSCluster until everything it deployed, cluster-scoped objects included, is gone.
const Finalizer = "storageos.com/cluster-cleanup"

// childEventInterval is the shortest time between two reconciles of a cluster caused by its children's events.
const childEventInterval = 2 * time.Second

// Reconciler reconciles StorageOSClusters.
type Reconciler struct {
	Client      client.Client
	Scheme      *runtime.Scheme
	Recorder    recorder.EventRecorder
	KubeVersion *version.Version
	// Getenv looks up RELATED_IMAGE_* overrides; os.Getenv in the binary.
	Getenv func(string) string
	// API is how the StorageOS APIs are reached (the cluster's Service by default).
	API storageos.Access
	// ResyncPeriod is how often a settled cluster's status is refreshed from the StorageOS API without any
	// event, and UnsettledPollPeriod how often while anything is not as desired (poll.go).
	ResyncPeriod        time.Duration
	UnsettledPollPeriod time.Duration
	// DefaultK8sDistro is the k8sDistro of clusters that name none (e.g. "openshift" on OpenShift).
	DefaultK8sDistro string

	applier *ssa.Applier
	secrets *referencedSecrets
	// configChecked memoises, by cluster UID, the StorageOS settings last found as the spec wants them.
	configChecked sync.Map
	apis          *storageos.Connector
}

// CacheOptions limits what the cluster-manager caches to the objects it manages, so unrelated ConfigMaps,
// Secrets and Pods elsewhere in the cluster cost it no memory.
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.ClusterManager})
	// Namespaces are few, and the cluster-manager must know whether spec.namespace exists before creating it.
	byObject := map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: managed, Transform: kube.PodStatusOnly}}
	for _, k := range managedKinds {
		byObject[k.object()] = cache.ByObject{Label: managed}
	}
	return cache.Options{ByObject: byObject}
}

// Setup registers the StorageOSCluster controller on a manager built with CacheOptions: the client, scheme and
// recorder come from the manager, and every option left unset gets its default; ctx is the manager's lifetime. The API server's version is read once, for the
// version-dependent images. Children live in spec.namespace, often another namespace than the StorageOSCluster,
// where owner references cannot point; they are mapped back through their labels instead.
func Setup(ctx context.Context, mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Scheme, r.Recorder = mgr.GetClient(), mgr.GetScheme(), mgr.GetEventRecorder(names.ClusterManager)
	if r.KubeVersion == nil {
		v, err := serverVersion(mgr)
		if err != nil {
			return err
		}
		r.KubeVersion = v
	}
	if r.Getenv == nil {
		r.Getenv = os.Getenv
	}
	if r.ResyncPeriod == 0 {
		r.ResyncPeriod = defaultSettledPoll
	}
	if r.UnsettledPollPeriod == 0 {
		r.UnsettledPollPeriod = defaultUnsettledPoll
	}
	apis, err := r.API.Connector()
	if err != nil {
		return err
	}
	r.apis = apis
	r.applier = ssa.New(r.Client, mgr.GetAPIReader(), r.Scheme, names.ClusterManager).
		AdoptFrom(names.LegacyOperator, legacyUnlabelledCSIDriver)

	b := ctrl.NewControllerManagedBy(mgr).
		Named("storageoscluster").
		For(&storageosv1.StorageOSCluster{}).
		// When a cluster goes away, a second one waiting for it may proceed.
		Watches(&storageosv1.StorageOSCluster{}, handler.EnqueueRequestsFromMapFunc(r.otherClusters),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc: func(_ event.CreateEvent) bool { return false },
				UpdateFunc: func(_ event.UpdateEvent) bool { return false },
			}))
	isManaged := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetLabels()[names.LabelManagedBy] == names.ClusterManager
	})
	managed := builder.WithPredicates(isManaged)
	// A storm of child events (an upgrade replacing thousands of node pods, each turning unready and ready, and
	// the DaemonSet's status following each) costs a reconcile and a status write per interval.
	children := kube.NewBatchedEvents(childEventInterval)
	for _, k := range managedKinds {
		b = b.Watches(k.object(), children.Handler(ownerOf), managed)
	}
	// A node pod turning ready or unready is news from StorageOS (its readiness probe asks the node's API):
	// reconciled at once rather than at the next poll, or when the DaemonSet's status catches up.
	b = b.Watches(&corev1.Pod{}, children.Handler(ownerOf), builder.WithPredicates(isManaged, nodePodReadiness()))
	c, err := b.Build(r)
	if err != nil {
		return err
	}
	r.secrets = &referencedSecrets{mgr: mgr, ctx: ctx, controller: c,
		clusters: r.Client, readers: map[types.NamespacedName]cache.Cache{}, stops: map[types.NamespacedName]context.CancelFunc{}}
	return registerMetrics(mgr)
}

func serverVersion(mgr ctrl.Manager) (*version.Version, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reading the Kubernetes version: %w", err)
	}
	return version.ParseGeneric(info.GitVersion)
}

// ownerOf maps a child to its StorageOSCluster through the instance and cluster-namespace labels.
func ownerOf(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	name, ns := l[names.LabelInstance], l[names.LabelClusterNamespace]
	if name == "" || ns == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

func (r *Reconciler) otherClusters(ctx context.Context, o client.Object) []reconcile.Request {
	var list storageosv1.StorageOSClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if c.UID != o.GetUID() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
		}
	}
	return out
}

// Reconcile is fetch → delete or finalizer → one-cluster check → ordered phases → observe → one status patch,
// deferred, whose error is returned so a failed write is retried with backoff. A reconcile that observed the
// deployment asks again after a period that depends on the status it wrote (nextPoll).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, reterr error) {
	cluster := &storageosv1.StorageOSCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, cluster); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := newScope(cluster)
	defer func() {
		reterr = errors.Join(reterr, r.patchStatus(ctx, s))
		if reterr == nil && s.observed != nil && !s.deleting {
			res.RequeueAfter = nextPoll(s.cluster, r.ResyncPeriod, r.UnsettledPollPeriod, time.Now())
		}
	}()

	// A cluster the original operator deployed carries its finalizer; ours replaces it, so the cluster can be
	// deleted (and is cleaned up) by this operator.
	if swapped, err := kube.ReplaceFinalizer(ctx, r.Client, cluster, names.LegacyClusterFinalizer, Finalizer); err != nil {
		return ctrl.Result{}, err
	} else if swapped {
		s.refreshBase(cluster)
		r.Recorder.Eventf(cluster, nil, corev1.EventTypeNormal, EventAdopted, "Adopt",
			"replaced the original operator's finalizer %s with %s", names.LegacyClusterFinalizer, Finalizer)
	}
	if !cluster.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, s)
	}
	if added, err := kube.AddFinalizer(ctx, r.Client, cluster, Finalizer); err != nil {
		return ctrl.Result{}, err
	} else if added {
		s.refreshBase(cluster)
	}

	if blocker, err := r.activeCluster(ctx, cluster); err != nil {
		return ctrl.Result{}, err
	} else if blocker != nil {
		r.blockedBy(s, blocker)
		return ctrl.Result{}, nil
	}

	phases := []phase{r.reconcileInput}
	if cluster.Spec.Pause {
		s.paused = true
	} else {
		phases = append(phases, r.deployPhases()...)
	}
	for _, phase := range phases {
		if err := phase(ctx, s); err != nil {
			s.failed(err)
			if waiting := (&ssa.WaitingForLegacyError{}); !errors.As(err, &waiting) {
				r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, EventFailedCreation, "Reconcile", "%s", err.Error())
			}
			return ctrl.Result{}, err
		}
	}
	// Observing and the StorageOS API's settings never fail the reconcile: they are reported in conditions.
	if err := r.observe(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	r.reconcileClusterConfig(ctx, s)
	return ctrl.Result{}, nil
}

// activeCluster returns the cluster that already owns this Kubernetes cluster's StorageOS deployment, if it is
// not c.
func (r *Reconciler) activeCluster(ctx context.Context, c *storageosv1.StorageOSCluster) (*storageosv1.StorageOSCluster, error) {
	var list storageosv1.StorageOSClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	if active := Active(append(list.Items, *c)); active.UID != c.UID {
		return active, nil
	}
	return nil, nil
}

// Active is, of the StorageOSClusters in a Kubernetes cluster, the one that runs its StorageOS deployment (nil
// when there are none). A cluster that has claimed the deployment (reconciled without being blocked) keeps it;
// otherwise the oldest wins, then the first by namespace/name, so every reconcile of every cluster, and the
// controllers that depend on the cluster (NFS servers), agree.
func Active(clusters []storageosv1.StorageOSCluster) *storageosv1.StorageOSCluster {
	var active *storageosv1.StorageOSCluster
	for i := range clusters {
		if active == nil || precedes(&clusters[i], active) {
			active = &clusters[i]
		}
	}
	return active
}

func precedes(a, b *storageosv1.StorageOSCluster) bool {
	if ca, cb := claimed(a), claimed(b); ca != cb {
		return ca
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// claimed reports whether a cluster has been reconciled as the active one: it has conditions, and they do not
// say another cluster blocks it.
func claimed(c *storageosv1.StorageOSCluster) bool {
	available := meta.FindStatusCondition(c.Status.Conditions, ConditionAvailable)
	return available != nil && available.Reason != ReasonAnotherCluster
}
