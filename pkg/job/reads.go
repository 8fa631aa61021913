package job

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// maxQueuedLogReads bounds the log reads started and not finished, across all jobs: enough to keep every slot of
// the LogReader busy while a reconcile runs, without a goroutine per pending pod on a cluster of thousands.
const maxQueuedLogReads = 4 * maxConcurrentLogReads

// logReads runs the reads of job pods' logs in the background and keeps what this process knows beyond the
// status: the pods seen done whose record has not reached the status yet, when each pending pod was last read,
// and which reads are under way. A reconcile never waits on a log: it starts the reads that are due and writes
// what is known, and each read that finds the word reconciles its job again. On a large cluster, where pods start
// faster than a round of reads completes, the status then follows each read as it finishes rather than the
// slowest of a batch.
//
// None of it needs to survive a restart: the status records the pods done, and a new process reads the pending
// pods' logs again.
type logReads struct {
	reader LogReader
	// interval is how often a pending pod's log is read at most (the Reconciler's PollInterval).
	interval time.Duration
	// ctx is the manager's: reads stop with it.
	ctx context.Context
	// found receives the job of every read that found the word, or that freed room for reads left waiting.
	found chan event.GenericEvent

	mu     sync.Mutex
	jobs   map[types.NamespacedName]*jobReads
	queued int // reads started and not finished, across all jobs
}

// jobReads is one job's part of logReads.
type jobReads struct {
	seen     map[string]storageosv1.CompletedPod // by node
	lastRead map[types.UID]time.Time             // pending pods only
	reading  map[types.UID]bool
	// waiting is set when pods were due but not read for want of room: a finished read reconciles the job again.
	waiting bool
}

func newLogReads(ctx context.Context, reader LogReader, interval time.Duration) *logReads {
	return &logReads{reader: reader, interval: interval, ctx: ctx,
		found: make(chan event.GenericEvent), jobs: map[types.NamespacedName]*jobReads{}}
}

// progress classifies the job's pods by what the status and this process know, and starts reading the logs of
// the pending pods that are due. The pods seen done are, from here on, exactly those classifyPods counts: pods
// gone or restarted drop out.
func (l *logReads) progress(job *storageosv1.Job, ds *appsv1.DaemonSet, pods []corev1.Pod) progress {
	key := client.ObjectKeyFromObject(job)
	l.mu.Lock()
	jr := l.jobs[key]
	if jr == nil {
		jr = &jobReads{seen: map[string]storageosv1.CompletedPod{}, lastRead: map[types.UID]time.Time{},
			reading: map[types.UID]bool{}}
		l.jobs[key] = jr
	}
	p := classifyPods(job, ds, pods, slices.Collect(maps.Values(jr.seen)))
	jr.seen = make(map[string]storageosv1.CompletedPod, len(p.done))
	for _, d := range p.done {
		jr.seen[d.Node] = d
	}
	due := l.due(jr, pods, p.toRead)
	l.mu.Unlock()

	for _, pod := range due {
		go l.read(key, jr, pod, job.Spec.CompletionWord)
	}
	return p
}

// due picks the pending pods to read now and records them as read: not under way, not read within interval,
// those never read first, as many as there is room for. The caller holds mu.
func (l *logReads) due(jr *jobReads, listed []corev1.Pod, pending []*corev1.Pod) []*corev1.Pod {
	// Read times of pods no longer listed are dropped.
	reads := make(map[types.UID]time.Time, len(jr.lastRead))
	for i := range listed {
		if at, ok := jr.lastRead[listed[i].UID]; ok {
			reads[listed[i].UID] = at
		}
	}
	jr.lastRead = reads
	now := time.Now()
	var due []*corev1.Pod
	for _, pod := range pending {
		if last, ok := reads[pod.UID]; !jr.reading[pod.UID] && (!ok || now.Sub(last) >= l.interval) {
			due = append(due, pod)
		}
	}
	// Never read (the zero time) first, then the longest unread.
	slices.SortStableFunc(due, func(a, b *corev1.Pod) int { return reads[a.UID].Compare(reads[b.UID]) })
	room := max(maxQueuedLogReads-l.queued, 0)
	jr.waiting = len(due) > room
	due = due[:min(len(due), room)]
	for _, pod := range due {
		reads[pod.UID] = now
		jr.reading[pod.UID] = true
	}
	l.queued += len(due)
	return due
}

// read reads one pod's log and records the pod as done when it holds the word. A read that fails counts as not
// done: the pod is read again once due.
func (l *logReads) read(key types.NamespacedName, jr *jobReads, pod *corev1.Pod, word string) {
	found, err := l.reader.Contains(l.ctx, pod, ContainerName, word)
	if err != nil {
		ctrl.LoggerFrom(l.ctx).V(1).Info("Reading job pod logs", "job", key, "pod", pod.Name, "error", err.Error())
	}
	l.mu.Lock()
	l.queued--
	delete(jr.reading, pod.UID)
	found = found && err == nil
	if found {
		jr.seen[pod.Spec.NodeName] = storageosv1.CompletedPod{
			Node: pod.Spec.NodeName, Pod: pod.Name, UID: string(pod.UID), RestartCount: restartCount(pod)}
		delete(jr.lastRead, pod.UID) // only pending pods are read
	}
	// Another job's pods may be waiting for room too: any job left waiting is reconciled.
	var again []types.NamespacedName
	if found && l.jobs[key] == jr {
		again = append(again, key)
	}
	for k, other := range l.jobs {
		if other.waiting {
			other.waiting = false
			again = append(again, k)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(again, compareKeys)
	for _, k := range slices.Compact(again) {
		l.notify(k)
	}
}

// notify reconciles the job again.
func (l *logReads) notify(key types.NamespacedName) {
	job := &storageosv1.Job{}
	job.Namespace, job.Name = key.Namespace, key.Name
	ev := event.GenericEvent{Object: job}
	select {
	case l.found <- ev:
	case <-l.ctx.Done():
	}
}

// forget drops what is known of a job that is gone; reads under way finish into nothing.
func (l *logReads) forget(key types.NamespacedName) {
	l.mu.Lock()
	delete(l.jobs, key)
	l.mu.Unlock()
}

// compareKeys orders job keys, so that notifications go out in a stable order.
func compareKeys(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
