package job

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// maxConcurrentLogReads bounds the log reads of one job-manager, whatever the number of jobs and pods. At 16, a
// 5,000-node Job's reads (0.3 s each, 1 s at p90, on a loaded API server) fell a minute behind pods that
// started 34 a second.
const maxConcurrentLogReads = 32

// +kubebuilder:rbac:groups=storageos.com,resources=jobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=storageos.com,resources=jobs/status,verbs=get;update;patch
// The DaemonSet's owner reference blocks the Job's deletion until it is gone; clusters that enforce owner
// reference permissions (OpenShift) require update on the owner's finalizers for that.
// +kubebuilder:rbac:groups=storageos.com,resources=jobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=list;watch
// Nodes are read (labels and taints) to say why a Job's DaemonSet runs nowhere.
// +kubebuilder:rbac:groups="",resources=nodes,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=pods/log,verbs=get
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles Jobs.
type Reconciler struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Recorder recorder.EventRecorder
	// Logs reads pod logs; a PodLogReader by default.
	Logs LogReader
	// PollInterval is how often an unfinished job looks at its pods again, and how often each pending pod's log
	// is read at most: logs produce no watch events, and pod events come far more often than a task finishes.
	PollInterval time.Duration

	applier *ssa.Applier
	reads   *logReads
}

// CacheOptions limits the job-manager's cache to job pods, its own DaemonSets, and what placement reads of nodes
// (name, labels, taints: a Job that runs nowhere says why).
func CacheOptions() cache.Options {
	jobPods, _ := labels.NewRequirement(LabelJob, selection.Exists, nil)
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:       {Label: labels.NewSelector().Add(*jobPods), Transform: kube.PodStatusOnly},
		&appsv1.DaemonSet{}: {Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.JobManager})},
		&corev1.Node{}:      {Transform: placementOnly},
	}}
}

// placementOnly keeps of a node what fitNodes reads; the rest (status, images, annotations) is most of its size.
func placementOnly(obj any) (any, error) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{
		TypeMeta: node.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: node.Name, UID: node.UID, ResourceVersion: node.ResourceVersion,
			Labels: node.Labels},
		Spec: corev1.NodeSpec{Taints: node.Spec.Taints},
	}, nil
}

// Setup registers the Job controller on a manager built with CacheOptions: the client, scheme and recorder come
// from the manager, and every option left unset gets its default.
func Setup(ctx context.Context, mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Scheme, r.Recorder = mgr.GetClient(), mgr.GetScheme(), mgr.GetEventRecorder(names.JobManager)
	if r.Logs == nil {
		cs, err := kubernetes.NewForConfig(mgr.GetConfig())
		if err != nil {
			return err
		}
		r.Logs = NewPodLogReader(cs, maxConcurrentLogReads)
	}
	if r.PollInterval == 0 {
		r.PollInterval = 5 * time.Second
	}
	r.applier = ssa.New(r.Client, mgr.GetAPIReader(), r.Scheme, names.JobManager)
	r.reads = newLogReads(ctx, r.Logs, r.PollInterval)
	if err := registerMetrics(mgr); err != nil {
		return err
	}
	// Everything but the Job's creation, deletion and spec edits is batched per Job: on a large cluster its pods
	// start, its DaemonSet's status follows each, and its logs find the word thousands of times within minutes,
	// and each reconcile may write a status that names every node done.
	events := kube.NewBatchedEvents(jobEventInterval)
	return ctrl.NewControllerManagedBy(mgr).
		Named("job").
		For(&storageosv1.Job{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// The job-manager's own status writes among them: a write refused for a stale read is retried from the
		// newer Job.
		Watches(&storageosv1.Job{}, events.Handler(itself), builder.WithPredicates(sameGeneration)).
		// The DaemonSet and its pods carry the Job's name in LabelJob (pods belong to the DaemonSet, not the Job).
		Watches(&appsv1.DaemonSet{}, events.Handler(byJobLabel)).
		Watches(&corev1.Pod{}, events.Handler(byJobLabel)).
		// A log read that found the word reconciles its Job: logs produce no watch events.
		WatchesRawSource(source.Channel(r.reads.found, events.Handler(itself))).
		Complete(r)
}

// jobEventInterval is the shortest time between two reconciles of a Job caused by anything but its spec: as
// Kubernetes' own Job controller batches pod updates.
const jobEventInterval = time.Second

// sameGeneration passes updates of a Job that leave its spec alone; GenerationChangedPredicate passes the others.
var sameGeneration = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	UpdateFunc:  func(e event.UpdateEvent) bool { return e.ObjectOld.GetGeneration() == e.ObjectNew.GetGeneration() },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

func itself(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
}

func byJobLabel(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[LabelJob]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// Reconcile applies the DaemonSet, then works out from its pods and the log reads finished so far which nodes are
// done, and starts reading the logs that are due (a read that finds the word reconciles the Job again). The
// status is written once, on the way out, so a failed write is retried with backoff like any other error.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	job := &storageosv1.Job{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			r.reads.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !job.DeletionTimestamp.IsZero() {
		r.reads.forget(req.NamespacedName)
		return ctrl.Result{}, nil // the garbage collector removes the DaemonSet and its pods
	}
	if job.Status.Completed {
		// A Job completes once ("Job Completed. Safe to delete."): its status is its result. A pod replaced or a
		// node joining afterwards neither reopens it nor announces it again (make soak found both), and its
		// DaemonSet is left as it is.
		r.reads.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	before := job.DeepCopy()
	completedNow := false
	defer func() {
		// Every write is locked on the Job as read: a reconcile that started from a stale cache is refused (the
		// newer Job's watch event reconciles it again). Unlocked, a reconcile that read the Job just before it
		// completed could write its older progress over the completed status (completed stays true, the counts
		// and the Complete condition go back), and a completed Job is never reconciled again to mend it. The
		// price is a conflict whenever the cache lags this process's last write.
		if err := kube.PatchStatus(ctx, r.Client, names.JobManager, before, job, client.MergeFromWithOptimisticLock{}); err != nil {
			reterr = errors.Join(reterr, kube.IgnoreConflict(err))
			return
		}
		if completedNow {
			r.Recorder.Eventf(job, nil, corev1.EventTypeNormal, EventJobCompleted, "Complete", "Job Completed. Safe to delete.")
		}
	}()

	desired, err := DaemonSet(job)
	if err != nil {
		// The schema checks labelSelector, so only a Job written before that check can get here; nothing to retry.
		kube.SetCondition(&job.Status.Conditions, job.Generation, ConditionComplete, metav1.ConditionFalse,
			ReasonInvalidSpec, err.Error())
		return ctrl.Result{}, nil
	}
	if _, err := r.applier.Apply(ctx, desired); err != nil {
		// Say why on the Job (a DaemonSet of that name that is not this Job's, an admission rejection), then
		// retry with backoff.
		kube.SetCondition(&job.Status.Conditions, job.Generation, ConditionComplete, metav1.ConditionFalse,
			ReasonDaemonSetFailed, "cannot apply DaemonSet "+DaemonSetName(job)+": "+err.Error())
		return ctrl.Result{}, err
	}
	ds := &appsv1.DaemonSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: DaemonSetName(job)}, ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var pods corev1.PodList
	// Only read, here and by the log reads queued (the cache replaces its objects, it does not change them): not
	// copied, which on a large cluster would be thousands of pods per reconcile.
	if err := r.Client.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{LabelJob: job.Name},
		client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}

	var fit *nodeFit
	if ds.Status.DesiredNumberScheduled == 0 {
		// Only a Job whose DaemonSet runs nowhere looks at the nodes, to say why.
		var nodes corev1.NodeList
		if err := r.Client.List(ctx, &nodes); err != nil {
			return ctrl.Result{}, err
		}
		f := fitNodes(job, nodes.Items)
		fit = &f
	}
	completedNow = setStatus(job, ds, r.reads.progress(job, ds, pods.Items), fit)
	if job.Status.Completed {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: r.PollInterval}, nil
}
