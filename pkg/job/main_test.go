//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

package job_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/job"
	"github.com/storageos/cluster-operator/pkg/manager"
)

var (
	testEnv *envtest.Environment
	logs    = &fakeLogs{text: map[string]string{}, reads: map[string]int{}, readsAfterWord: map[string]int{},
		held: map[string]chan struct{}{}, holding: map[string]int{}}
	// metricsAddr is where the job-manager serves its metrics, over HTTPS behind authn/authz as in a pod.
	metricsAddr string
)

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv, startJobManager)
}

// startJobManager runs the job-manager's controller in-process, reading logs from fakeLogs: envtest has no
// kubelets, so the tests play them.
func startJobManager(env *envtest.Environment) (func(), error) {
	asJobManager, err := env.AsBinary(context.Background(), "job-manager")
	if err != nil {
		return nil, err
	}
	opts := manager.NewOptions("job-manager", "")
	opts.Cache = job.CacheOptions()
	if metricsAddr, err = envtest.ServeMetrics(&opts); err != nil {
		return nil, err
	}
	mgr, err := env.NewManager(opts, asJobManager)
	if err != nil {
		return nil, err
	}
	// The manager's context, as in the binary: the log reads stop with it.
	ctx, cancel := context.WithCancel(context.Background())
	if err := job.Setup(ctx, mgr, &job.Reconciler{Logs: logs, PollInterval: 500 * time.Millisecond}); err != nil {
		cancel()
		return nil, err
	}
	return envtest.StartManager(ctx, cancel, mgr, "job-manager"), nil
}

// fakeLogs holds what each container instance (pod UID and restart count) has printed, and counts reads.
type fakeLogs struct {
	mu             sync.Mutex
	text           map[string]string
	reads          map[string]int // by pod UID
	readsAfterWord map[string]int // reads of a pod (by UID) after its log held the word
	held           map[string]chan struct{}
	holding        map[string]int // reads waiting at a pod's gate, by UID
}

func logKey(pod *corev1.Pod) string {
	var restarts int32
	for _, cs := range pod.Status.ContainerStatuses {
		restarts = cs.RestartCount
	}
	return string(pod.UID) + "/" + strconv.Itoa(int(restarts))
}

func (f *fakeLogs) Contains(_ context.Context, pod *corev1.Pod, container, word string) (bool, error) {
	if container != job.ContainerName {
		return false, nil
	}
	f.mu.Lock()
	f.reads[string(pod.UID)]++
	gate := f.held[string(pod.UID)]
	if gate != nil {
		f.holding[string(pod.UID)]++
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if gate != nil {
		f.holding[string(pod.UID)]--
	}
	found := strings.Contains(f.text[logKey(pod)], word)
	if found {
		f.readsAfterWord[string(pod.UID)]++
	}
	return found, nil
}

// hold makes reads of the pod's log wait until release is called, as a kubelet that takes the request and sends
// nothing would.
func (f *fakeLogs) hold(pod *corev1.Pod) (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.held[string(pod.UID)] = gate
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.held, string(pod.UID))
			f.mu.Unlock()
			close(gate)
		})
	}
}

// heldReads is how many reads of the pod's log wait at its gate.
func (f *fakeLogs) heldReads(pod *corev1.Pod) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holding[string(pod.UID)]
}

func (f *fakeLogs) print(pod *corev1.Pod, line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.text[logKey(pod)] += line + "\n"
}

func (f *fakeLogs) afterWord(pod *corev1.Pod) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readsAfterWord[string(pod.UID)]
}

func (f *fakeLogs) readsOf(pods []*corev1.Pod) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range pods {
		n += f.reads[string(p.UID)]
	}
	return n
}
