// Package nodelabels is the cluster-manager's node label sync: it copies the labels of each Kubernetes node to
// the StorageOS node of the same name, as the original operator's node controller did, and removes again the
// ones it copied once Kubernetes no longer has them. The rules are Diff's.
package nodelabels

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// Nodes are read from a metadata-only cache: labels and annotations are all the sync needs, and a node's
// status (images, conditions) is most of its size. patch is for AnnotationSynced.
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// EventSyncFailed is the reason of the Warning event on the StorageOSCluster when a sync fails for a reason
// someone must fix: the API secret, the credentials in it, labels StorageOS refuses, missing permissions.
const EventSyncFailed = "NodeLabelSyncFailed"

// Reconciler syncs the node labels of the running StorageOSCluster. The request is the cluster: one sync lists
// the StorageOS nodes once and updates those whose labels differ.
type Reconciler struct {
	Client   client.Client
	Recorder recorder.EventRecorder
	// API is how the StorageOS APIs are reached (the cluster's Service by default).
	API storageos.Access

	// reader reads the API secret from the API server. A sync runs only when a node's labels change or a
	// StorageOS node joins, so one read per sync costs less than an informer kept on the secret for good.
	reader client.Reader
	apis   *storageos.Connector
}

// Setup registers the node label sync on the cluster-manager's manager: the client and recorder come from the
// manager, and every option left unset gets its default.
func Setup(_ context.Context, mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Recorder, r.reader = mgr.GetClient(), mgr.GetEventRecorder(names.ClusterManager), mgr.GetAPIReader()
	apis, err := r.API.Connector()
	if err != nil {
		return err
	}
	r.apis = apis
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodelabels").
		For(&storageosv1.StorageOSCluster{}, builder.WithPredicates(clusterChanged)).
		WatchesMetadata(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.activeClusters),
			builder.WithPredicates(labelsChanged)).
		Complete(r)
}

// labelsChanged lets through new nodes and label edits. kubelet's status heartbeats and our own annotation
// writes change no label: each would otherwise cost a call to the StorageOS API for nothing.
var labelsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}

// clusterChanged lets through what changes which nodes to sync, or how: the cluster starting or stopping to
// run, a spec edit (pause, the API secret, the Service), and a StorageOS node joining (a new name in
// status.nodeHealthStatus or a new count in status.nodeCounts, which the cluster-manager refreshes from the API)
// whose labels have not been synced yet. Status refreshes that change none of that are filtered out.
var clusterChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		older, oldOK := e.ObjectOld.(*storageosv1.StorageOSCluster)
		newer, newOK := e.ObjectNew.(*storageosv1.StorageOSCluster)
		if !oldOK || !newOK {
			return true
		}
		oldNames, oldCount := storageOSNodes(older)
		newNames, newCount := storageOSNodes(newer)
		return older.Generation != newer.Generation || active(older) != active(newer) ||
			!slices.Equal(oldNames, newNames) || oldCount != newCount
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}

// storageOSNodes says which nodes the StorageOS API reported in a cluster's last status refresh: the names the
// status gives (every node of a cluster of up to storageosv1.NodeListMax nodes; of a larger one, those not
// well), and how many there were, which is how a node joining a large cluster shows.
func storageOSNodes(c *storageosv1.StorageOSCluster) ([]string, int32) {
	var count int32
	if n := c.Status.NodeCounts; n != nil {
		count = n.Online + n.Offline + n.Unknown
	}
	return slices.Sorted(maps.Keys(c.Status.NodeHealthStatus)), count
}

// active reports whether a cluster's nodes are synced: it runs (the cluster-manager lets only one cluster run)
// and it is not paused, as the cluster-manager leaves the StorageOS API's settings alone while paused.
func active(c *storageosv1.StorageOSCluster) bool {
	return c.DeletionTimestamp.IsZero() && !c.Spec.Pause && c.Status.Phase == storageosv1.ClusterPhaseRunning
}

// activeClusters maps a node to the clusters whose nodes are synced: in practice the one running cluster.
func (r *Reconciler) activeClusters(ctx context.Context, _ client.Object) []reconcile.Request {
	var list storageosv1.StorageOSClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if active(&list.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// Reconcile syncs every StorageOS node of the cluster that has a Kubernetes node of the same name. One node's
// failure does not stop the others; the failures are returned together, so the sync is retried with backoff,
// and those someone must fix are also reported as Warning events on the cluster.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cluster := &storageosv1.StorageOSCluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, cluster); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !active(cluster) {
		return ctrl.Result{}, nil
	}
	errs := r.sync(ctx, cluster)
	for _, err := range errs {
		if !transient(err) {
			r.Recorder.Eventf(cluster, nil, corev1.EventTypeWarning, EventSyncFailed, "SyncNodeLabels",
				"Syncing node labels to StorageOS: %s", err.Error())
		}
	}
	return ctrl.Result{}, errors.Join(errs...)
}

func (r *Reconciler) sync(ctx context.Context, cluster *storageosv1.StorageOSCluster) []error {
	api, err := r.api(ctx, cluster)
	if err != nil {
		return []error{err}
	}
	nodes, err := api.ListNodes(ctx)
	if err != nil {
		return []error{err}
	}
	kubeNodes := &metav1.PartialObjectMetadataList{}
	kubeNodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	// Only read (syncNode applies a new object): not copied out of the cache, which on a large cluster would be
	// a copy of every node's metadata per sync.
	if err := r.Client.List(ctx, kubeNodes, client.UnsafeDisableDeepCopy); err != nil {
		return []error{err}
	}
	byName := make(map[string]*metav1.PartialObjectMetadata, len(kubeNodes.Items))
	for i := range kubeNodes.Items {
		byName[kubeNodes.Items[i].Name] = &kubeNodes.Items[i]
	}
	var mu sync.Mutex
	var errs []error
	var g errgroup.Group
	g.SetLimit(nodeSyncs)
	for _, node := range nodes {
		kube, ok := byName[node.Name]
		if !ok {
			continue
		}
		g.Go(func() error {
			if err := r.syncNode(ctx, api, kube, node); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("node %s: %w", node.Name, err))
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // every node's error is in errs
	// In node order, so that the same failures read the same in the events and the log.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// nodeSyncs is how many nodes one sync updates at once. Each is a StorageOS API call and a node annotation
// write, tens of milliseconds apiece: one at a time, the first sync of a 5,000-node cluster took 8 minutes.
const nodeSyncs = 8

// syncNode makes one StorageOS node's labels follow its Kubernetes node's. AnnotationSynced names every key
// about to be written before the write, and forgets the removed ones only after it: a failure in between may
// leave a key listed that was never written (nothing to remove later), never one written and not listed (it
// could never be removed).
func (r *Reconciler) syncNode(ctx context.Context, api storageos.API, kube *metav1.PartialObjectMetadata, node storageos.Node) error {
	synced := decodeKeys(kube.Annotations[AnnotationSynced])
	plan := Diff(kube.Labels, node.Labels, synced)
	during := union(synced, plan.Synced)
	if err := r.recordSynced(ctx, kube, synced, during); err != nil {
		return err
	}
	if plan.Update {
		if _, err := api.UpdateNodeLabels(ctx, node, plan.Labels); err != nil {
			return err
		}
		ctrl.LoggerFrom(ctx).Info("Synced node labels to StorageOS", "node", node.Name, "labels", len(plan.Labels))
	}
	return r.recordSynced(ctx, kube, during, plan.Synced)
}

// recordSynced writes keys into the node's AnnotationSynced, unless it holds them already (have), with
// server-side apply under the cluster-manager's field owner: no key of the node but that annotation is
// touched, and applying no keys removes it. The node's UID makes the apply fail rather than create a node that
// was deleted meanwhile.
func (r *Reconciler) recordSynced(ctx context.Context, kube *metav1.PartialObjectMetadata, have, keys []string) error {
	if slices.Equal(have, keys) {
		return nil
	}
	node := corev1ac.Node(kube.Name).WithUID(kube.UID)
	if len(keys) > 0 {
		node.WithAnnotations(map[string]string{AnnotationSynced: encodeKeys(keys)})
	}
	if err := r.Client.Apply(ctx, node, client.FieldOwner(names.ClusterManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("recording the synced label keys in annotation %s: %w", AnnotationSynced, err)
	}
	return nil
}

// api connects to the cluster's StorageOS API with the credentials of its API secret.
func (r *Reconciler) api(ctx context.Context, c *storageosv1.StorageOSCluster) (storageos.API, error) {
	return r.apis.ConnectWithSecret(ctx, r.reader, c)
}

// transient failures go away on their own and are only retried: a change made since the StorageOS node was read
// (it is read again), a node that left StorageOS or was deleted from Kubernetes meanwhile (the annotation's
// apply then fails on the UID with a conflict), an API that is restarting or slow. A missing secret is not one.
func transient(err error) bool {
	return errors.Is(err, storageos.ErrConflict) || errors.Is(err, storageos.ErrNotFound) ||
		storageos.IsUnavailable(err) || apierrors.IsConflict(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
