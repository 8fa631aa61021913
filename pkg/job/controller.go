package job

import (
	"context"
	"errors"
	"slices"
	"sync"
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
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// maxConcurrentLogReads bounds the log reads of one job-manager, whatever the number of jobs and pods.
const maxConcurrentLogReads = 16

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
	// PollInterval is how often an unfinished job looks at its pods' logs, which produce no watch events.
	PollInterval time.Duration

	applier *ssa.Applier

	// seen remembers, per job, the pods this process has seen done, by pod UID and restart count. Status is the
	// record that survives a restart; this only covers the moment before the cache shows our own status write,
	// so that a done pod's logs are not read a second time.
	seenMu sync.Mutex
	seen   map[types.NamespacedName][]storageosv1.CompletedPod
	// lastRead is, per job, when each pending pod's logs were last read (by pod UID): pod events come far
	// more often than a task finishes, and a pending pod is read at most once per PollInterval however many
	// arrive. It holds only the job's current pending pods.
	lastRead map[types.NamespacedName]map[types.UID]time.Time
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
func Setup(_ context.Context, mgr ctrl.Manager, r *Reconciler) error {
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
	r.seen = map[types.NamespacedName][]storageosv1.CompletedPod{}
	r.lastRead = map[types.NamespacedName]map[types.UID]time.Time{}
	if err := registerMetrics(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("job").
		For(&storageosv1.Job{}).
		Owns(&appsv1.DaemonSet{}).
		// Job pods belong to the DaemonSet, not to the Job: map them back through their job label.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			name := o.GetLabels()[LabelJob]
			if name == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
		})).
		Complete(r)
}

// Reconcile applies the DaemonSet, then works out from its pods and their logs which nodes are done. The status
// is written once, on the way out, so a failed write is retried with backoff like any other error.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	job := &storageosv1.Job{}
	if err := r.Client.Get(ctx, req.NamespacedName, job); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !job.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil // the garbage collector removes the DaemonSet and its pods
	}
	before := job.DeepCopy()
	completedNow := false
	defer func() {
		// Locked on the Job as read: a reconcile that started from a stale cache is refused (the newer Job is
		// reconciled again), so it cannot announce the completion a second time.
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
	if err := r.Client.List(ctx, &pods, client.InNamespace(job.Namespace), client.MatchingLabels{LabelJob: job.Name}); err != nil {
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
	completedNow = setStatus(job, ds, r.progress(ctx, job, ds, pods.Items), fit)
	if job.Status.Completed {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: r.PollInterval}, nil
}

// progress finds the pods that are done: those recorded done earlier (same pod, no restart since) without
// reading their logs again, and those whose logs now hold the word.
func (r *Reconciler) progress(ctx context.Context, job *storageosv1.Job, ds *appsv1.DaemonSet, pods []corev1.Pod) progress {
	key := client.ObjectKeyFromObject(job)
	r.seenMu.Lock()
	p := classifyPods(job, ds, pods, r.seen[key])
	due := r.dueForRead(key, pods, p.toRead)
	r.seenMu.Unlock()
	p.done = append(p.done, r.readLogs(ctx, job, due)...)
	r.remember(key, p.done)
	return p
}

// dueForRead returns the pending pods whose logs may be read now, at most once per PollInterval each however
// many pod events arrive, and records those reads. Read times of pods no longer listed are dropped. The caller
// holds seenMu.
func (r *Reconciler) dueForRead(job types.NamespacedName, listed []corev1.Pod, pending []*corev1.Pod) []*corev1.Pod {
	reads := map[types.UID]time.Time{}
	for i := range listed {
		if at, ok := r.lastRead[job][listed[i].UID]; ok {
			reads[listed[i].UID] = at
		}
	}
	r.lastRead[job] = reads
	now := time.Now()
	var due []*corev1.Pod
	for _, pod := range pending {
		if last, ok := reads[pod.UID]; !ok || now.Sub(last) >= r.PollInterval {
			reads[pod.UID] = now
			due = append(due, pod)
		}
	}
	return due
}

// remember records exactly the pods done now, so pods that went away or restarted drop out, and forgets their
// read times: only pending pods are read.
func (r *Reconciler) remember(job types.NamespacedName, done []storageosv1.CompletedPod) {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	r.seen[job] = slices.Clone(done) // setStatus sorts done in place
	for _, p := range done {
		delete(r.lastRead[job], types.UID(p.UID))
	}
}

func (r *Reconciler) forget(job types.NamespacedName) {
	r.seenMu.Lock()
	delete(r.seen, job)
	delete(r.lastRead, job)
	r.seenMu.Unlock()
}
