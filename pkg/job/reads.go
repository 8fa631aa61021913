package job

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// logReads runs the reads of job pods' logs in the background and keeps what this process knows beyond the
// status: the pods seen done whose record has not reached the status yet, when each pending pod was last read,
// and which reads are under way or waiting for a slot. A reconcile never waits on a log: it queues the reads that
// are due and writes what is known; a read that finishes starts the next one queued, and one that finds the word
// reconciles its job. On a large cluster, where pods start faster than their logs can be read, the LogReader's
// slots stay busy whatever the reconciles do, and the status follows each read as it finishes.
//
// None of it needs to survive a restart: the status records the pods done, and a new process reads the pending
// pods' logs again.
type logReads struct {
	reader LogReader
	// interval is how often a pending pod's log is read at most (the Reconciler's PollInterval).
	interval time.Duration
	// ctx is the manager's: reads stop with it.
	ctx context.Context
	// found receives the job of every read that found the word.
	found chan event.GenericEvent

	mu   sync.Mutex
	jobs map[types.NamespacedName]*jobReads
	// started counts the reads started and not finished, across all jobs: at most maxConcurrentLogReads, so
	// that a pending pod waits in a queue rather than in a goroutine of its own.
	started int
}

// jobReads is one job's part of logReads.
type jobReads struct {
	key      types.NamespacedName
	word     string
	seen     map[types.UID]storageosv1.CompletedPod
	lastRead map[types.UID]time.Time // pending pods only
	reading  map[types.UID]bool
	// queue holds the pods due for a read at the job's last reconcile that no read has started for yet.
	queue []*corev1.Pod
}

func newLogReads(ctx context.Context, reader LogReader, interval time.Duration) *logReads {
	return &logReads{reader: reader, interval: interval, ctx: ctx,
		found: make(chan event.GenericEvent), jobs: map[types.NamespacedName]*jobReads{}}
}

// progress classifies the job's pods by what the status and this process know, and queues reads of the
// pending pods that are due. The pods seen done are, from here on, exactly those classifyPods counts: pods gone
// or restarted drop out.
func (l *logReads) progress(job *storageosv1.Job, ds *appsv1.DaemonSet, pods []corev1.Pod) progress {
	key := client.ObjectKeyFromObject(job)
	l.mu.Lock()
	defer l.mu.Unlock()
	jr := l.jobs[key]
	if jr == nil {
		jr = &jobReads{key: key, seen: map[types.UID]storageosv1.CompletedPod{}, lastRead: map[types.UID]time.Time{},
			reading: map[types.UID]bool{}}
		l.jobs[key] = jr
	}
	jr.word = job.Spec.CompletionWord
	p := classifyPods(job, ds, pods, slices.Collect(maps.Values(jr.seen)))
	jr.seen = make(map[types.UID]storageosv1.CompletedPod, len(p.done))
	for _, d := range p.done {
		jr.seen[types.UID(d.UID)] = d
	}
	jr.queue = l.due(jr, pods, p.toRead)
	l.startReads()
	return p
}

// due is the pending pods to read: not under way, not read within interval, those never read first, then the
// longest unread. Read times of pods no longer listed are dropped. The caller holds mu.
func (l *logReads) due(jr *jobReads, listed []corev1.Pod, pending []*corev1.Pod) []*corev1.Pod {
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
		if l.isDue(jr, pod, now) {
			// A copy of the pod alone (its maps and slices are the cache's, which only reads share): a pointer
			// into the reconcile's list would keep all of it, thousands of pods, while the pod waits its turn.
			due = append(due, ptr.To(*pod))
		}
	}
	slices.SortStableFunc(due, func(a, b *corev1.Pod) int { return reads[a.UID].Compare(reads[b.UID]) })
	return due
}

func (l *logReads) isDue(jr *jobReads, pod *corev1.Pod, now time.Time) bool {
	last, ok := jr.lastRead[pod.UID]
	return !jr.reading[pod.UID] && (!ok || now.Sub(last) >= l.interval)
}

// startReads starts reads from the jobs' queues while fewer than maxConcurrentLogReads are under way, a job at
// a time in turn, so that a large job does not hold back a small one. The caller holds mu.
func (l *logReads) startReads() {
	now := time.Now()
	for l.started < maxConcurrentLogReads {
		startedOne := false
		for _, jr := range l.jobs {
			for len(jr.queue) > 0 && l.started < maxConcurrentLogReads {
				pod := jr.queue[0]
				jr.queue = jr.queue[1:]
				if !l.isDue(jr, pod, now) {
					continue // read since it was queued
				}
				jr.reading[pod.UID], jr.lastRead[pod.UID] = true, now
				l.started++
				startedOne = true
				go l.read(jr, pod, jr.word)
				break
			}
		}
		if !startedOne {
			return
		}
	}
}

// read reads one pod's log, records the pod as done when it holds the word, and starts the next read queued. A
// read that fails counts as not done: the pod is read again once due.
func (l *logReads) read(jr *jobReads, pod *corev1.Pod, word string) {
	found, err := l.reader.Contains(l.ctx, pod, ContainerName, word)
	if err != nil {
		ctrl.LoggerFrom(l.ctx).V(1).Info("Reading job pod logs", "job", jr.key, "pod", pod.Name, "error", err.Error())
	}
	found = found && err == nil
	l.mu.Lock()
	l.started--
	delete(jr.reading, pod.UID)
	if found {
		jr.seen[pod.UID] = storageosv1.CompletedPod{
			Node: pod.Spec.NodeName, Pod: pod.Name, UID: string(pod.UID), RestartCount: restartCount(pod)}
		delete(jr.lastRead, pod.UID) // only pending pods are read
	}
	current := l.jobs[jr.key] == jr
	l.startReads()
	l.mu.Unlock()
	if found && current {
		l.notify(jr.key)
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
