package job

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

// Condition types and reasons of a Job.
const (
	ConditionComplete    = "Complete"
	ConditionPodsHealthy = "PodsHealthy"

	ReasonCompleted   = "Completed"
	ReasonInProgress  = "InProgress"
	ReasonWaiting     = "WaitingForPods"
	ReasonPodsFailing = "PodsFailing"
	ReasonHealthy     = "Healthy"
	// ReasonDaemonSetFailed: the Job's DaemonSet could not be created or updated.
	ReasonDaemonSetFailed = "DaemonSetFailed"
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
	seen   map[types.NamespacedName]map[string]storageosv1.CompletedPod
	// lastRead is, per job, when each pending pod's logs were last read (by pod UID): pod events come far
	// more often than a task finishes, and a pending pod is read at most once per PollInterval however many
	// arrive. It holds only the job's current pending pods.
	lastRead map[types.NamespacedName]map[types.UID]time.Time
}

// CacheOptions limits the job-manager's cache to job pods and its own DaemonSets.
func CacheOptions() cache.Options {
	jobPods, _ := labels.NewRequirement(LabelJob, selection.Exists, nil)
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:       {Label: labels.NewSelector().Add(*jobPods)},
		&appsv1.DaemonSet{}: {Label: labels.SelectorFromSet(labels.Set{names.LabelManagedBy: names.JobManager})},
	}}
}

// Setup registers the Job controller on a manager built with CacheOptions.
func Setup(mgr ctrl.Manager, r *Reconciler) error {
	r.Client, r.Scheme = mgr.GetClient(), mgr.GetScheme()
	r.Recorder = mgr.GetEventRecorder(names.JobManager)
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

// Reconcile applies the DaemonSet, then works out from its pods and their logs which nodes are done.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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
	base := job.DeepCopy()

	if _, err := r.applier.Apply(ctx, DaemonSet(job)); err != nil {
		// Say why on the Job (a DaemonSet of that name that is not this Job's, an admission rejection), then
		// retry with backoff.
		meta.SetStatusCondition(&job.Status.Conditions, metav1.Condition{Type: ConditionComplete, Status: metav1.ConditionFalse,
			Reason: ReasonDaemonSetFailed, Message: "cannot apply DaemonSet " + DaemonSetName(job) + ": " + err.Error(),
			ObservedGeneration: job.Generation})
		if perr := r.patchStatus(ctx, base, job); perr != nil {
			return ctrl.Result{}, errors.Join(err, perr)
		}
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

	progress := r.progress(ctx, job, ds, pods.Items)
	r.setStatus(job, ds, progress)
	if err := r.patchStatus(ctx, base, job); err != nil {
		return ctrl.Result{}, err
	}
	if job.Status.Completed {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: r.PollInterval}, nil
}

type progress struct {
	done    []storageosv1.CompletedPod
	failing []string // "node: reason"
}

// progress finds the pods that are done: those recorded done earlier (same pod, no restart since) without
// reading their logs again, and those whose logs now hold the word.
func (r *Reconciler) progress(ctx context.Context, job *storageosv1.Job, ds *appsv1.DaemonSet, pods []corev1.Pod) progress {
	recorded := map[string]storageosv1.CompletedPod{}
	for _, p := range job.Status.CompletedPods {
		recorded[p.Node] = p
	}
	jobKey := client.ObjectKeyFromObject(job)
	r.seenMu.Lock()
	for _, p := range r.seen[jobKey] {
		recorded[p.Node] = p
	}
	r.seenMu.Unlock()
	var out progress
	var toRead []*corev1.Pod
	for i := range pods {
		pod := &pods[i]
		if pod.Spec.NodeName == "" || !pod.DeletionTimestamp.IsZero() || !metav1.IsControlledBy(pod, ds) {
			continue
		}
		if rec, ok := recorded[pod.Spec.NodeName]; ok && rec.UID == string(pod.UID) && rec.RestartCount == restartCount(pod) {
			out.done = append(out.done, rec)
			continue
		}
		if reason := failure(pod); reason != "" {
			out.failing = append(out.failing, pod.Spec.NodeName+": "+reason)
			continue
		}
		if running(pod) && r.dueForRead(jobKey, pod.UID) {
			toRead = append(toRead, pod)
		}
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pod := range toRead {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found, err := r.Logs.Contains(ctx, pod, ContainerName, job.Spec.CompletionWord)
			if err != nil {
				ctrl.LoggerFrom(ctx).V(1).Info("Reading job pod logs", "pod", pod.Name, "error", err.Error())
				return
			}
			if found {
				mu.Lock()
				out.done = append(out.done, storageosv1.CompletedPod{
					Node: pod.Spec.NodeName, Pod: pod.Name, UID: string(pod.UID), RestartCount: restartCount(pod)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// Remember exactly the pods done now: pods that went away or restarted drop out.
	seen := map[string]storageosv1.CompletedPod{}
	for _, p := range out.done {
		seen[p.Node] = p
	}
	r.seenMu.Lock()
	if r.seen == nil {
		r.seen = map[types.NamespacedName]map[string]storageosv1.CompletedPod{}
	}
	r.seen[jobKey] = seen
	// Keep read times only for the job's listed pods that are still pending.
	doneUIDs := map[string]bool{}
	for _, p := range out.done {
		doneUIDs[p.UID] = true
	}
	pending := map[types.UID]time.Time{}
	for i := range pods {
		if at, ok := r.lastRead[jobKey][pods[i].UID]; ok && !doneUIDs[string(pods[i].UID)] {
			pending[pods[i].UID] = at
		}
	}
	if r.lastRead == nil {
		r.lastRead = map[types.NamespacedName]map[types.UID]time.Time{}
	}
	r.lastRead[jobKey] = pending
	r.seenMu.Unlock()
	sort.Slice(out.done, func(i, j int) bool { return out.done[i].Node < out.done[j].Node })
	sort.Strings(out.failing)
	return out
}

// setStatus records progress. The job is complete when every node the DaemonSet should run on
// (desiredNumberScheduled, as of the DaemonSet's current generation) has a pod that printed the word.
func (r *Reconciler) setStatus(job *storageosv1.Job, ds *appsv1.DaemonSet, p progress) {
	st := &job.Status
	wasComplete := st.Completed
	desired := ds.Status.DesiredNumberScheduled
	observed := ds.Status.ObservedGeneration >= ds.Generation && ds.Generation > 0
	st.CompletedPods = p.done
	st.NodesCompleted, st.NodesTotal = int32(len(p.done)), desired
	st.Completed = observed && desired > 0 && st.NodesCompleted >= desired
	st.ObservedGeneration = job.Generation

	set := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason,
			Message: msg, ObservedGeneration: job.Generation})
	}
	switch {
	case st.Completed:
		set(ConditionComplete, metav1.ConditionTrue, ReasonCompleted, fmt.Sprintf("all %d nodes printed %q", desired, job.Spec.CompletionWord))
	case !observed || desired == 0:
		set(ConditionComplete, metav1.ConditionFalse, ReasonWaiting, "waiting for the DaemonSet to schedule pods on the selected nodes")
	default:
		set(ConditionComplete, metav1.ConditionFalse, ReasonInProgress, fmt.Sprintf("%d/%d nodes done", st.NodesCompleted, desired))
	}
	if len(p.failing) > 0 {
		set(ConditionPodsHealthy, metav1.ConditionFalse, ReasonPodsFailing, "pods cannot finish on "+strings.Join(p.failing, ", "))
	} else {
		set(ConditionPodsHealthy, metav1.ConditionTrue, ReasonHealthy, "no job pod is failing")
	}
	if st.Completed && !wasComplete {
		r.Recorder.Eventf(job, nil, corev1.EventTypeNormal, "JobCompleted", "Complete", "Job Completed. Safe to delete.")
	}
}

// dueForRead reports whether a pending pod's logs may be read now, and if so records the read.
func (r *Reconciler) dueForRead(job types.NamespacedName, pod types.UID) bool {
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if r.lastRead == nil {
		r.lastRead = map[types.NamespacedName]map[types.UID]time.Time{}
	}
	if r.lastRead[job] == nil {
		r.lastRead[job] = map[types.UID]time.Time{}
	}
	now := time.Now()
	if last, ok := r.lastRead[job][pod]; ok && now.Sub(last) < r.PollInterval {
		return false
	}
	r.lastRead[job][pod] = now
	return true
}

func (r *Reconciler) forget(job types.NamespacedName) {
	r.seenMu.Lock()
	delete(r.seen, job)
	delete(r.lastRead, job)
	r.seenMu.Unlock()
}

func (r *Reconciler) patchStatus(ctx context.Context, base, job *storageosv1.Job) error {
	if equality.Semantic.DeepEqual(base.Status, job.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, job, client.MergeFrom(base))
}
