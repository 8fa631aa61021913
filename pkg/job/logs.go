package job

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// LogReader tells whether a pod's current container has printed a word. The job-manager reads logs through it,
// so tests without kubelets can supply logs.
type LogReader interface {
	Contains(ctx context.Context, pod *corev1.Pod, container, word string) (bool, error)
}

// Bounds of one log read. The task prints the word when it is done and then sleeps, so the word is near the
// end of the log: the last lines, since the container started, capped in bytes, are enough.
const (
	logTailLines  = 200
	logLimitBytes = 256 << 10
)

// DefaultLogReadTimeout bounds one log read. A bounded tail normally arrives in well under a second; a kubelet
// that accepts the request and then sends nothing would otherwise hold a slot, and with it every Job's polls,
// for as long as the connection lives.
const DefaultLogReadTimeout = 10 * time.Second

// PodLogReader reads logs through the API server's pods/log, at most maxConcurrent at a time across all jobs.
type PodLogReader struct {
	// Timeout bounds each read, from the moment it holds a slot until its body is read; a read that takes longer
	// fails and frees its slot (the pod is read again at the next poll). NewPodLogReader sets
	// DefaultLogReadTimeout; zero means no bound.
	Timeout time.Duration

	client kubernetes.Interface
	slots  chan struct{}
}

// NewPodLogReader is the LogReader the job-manager uses by default.
func NewPodLogReader(c kubernetes.Interface, maxConcurrent int) *PodLogReader {
	return &PodLogReader{Timeout: DefaultLogReadTimeout, client: c, slots: make(chan struct{}, maxConcurrent)}
}

// Contains reads the tail of the container's current log and looks for word anywhere in it, mid-line
// included, as the original operator did.
func (r *PodLogReader) Contains(ctx context.Context, pod *corev1.Pod, container, word string) (bool, error) {
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	// The deadline starts once the slot is held, so time spent queued behind other reads does not count; it
	// covers the request and the body, where a stuck stream would hang.
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	opts := &corev1.PodLogOptions{
		Container:  container,
		TailLines:  ptr.To[int64](logTailLines),
		LimitBytes: ptr.To[int64](logLimitBytes),
	}
	// Only what the current container printed counts: a restarted task must print the word again.
	if started := containerStartedAt(pod, container); started != nil {
		opts.SinceTime = started
	}
	stream, err := r.client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return false, fmt.Errorf("reading the log of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	defer stream.Close()
	data, err := io.ReadAll(io.LimitReader(stream, logLimitBytes))
	if err != nil {
		return false, fmt.Errorf("reading the log of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return strings.Contains(string(data), word), nil
}
