//go:build !mutation

package cluster_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// Run with: make bench (go test -run '^$' -bench . ./pkg/cluster/).

// BenchmarkSteadyState reconciles a Ready cluster and reports the requests each resync sends.
func BenchmarkSteadyState(b *testing.B) {
	c := readyCluster(b)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	requests.Reset()
	b.ResetTimer()
	for b.Loop() {
		if _, err := reconciler.Reconcile(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(requests.Writes())/float64(b.N), "writes/op")
	b.ReportMetric(float64(requests.Reads())/float64(b.N), "uncached-reads/op")
}

// BenchmarkConvergence measures the time and the API requests from creating a cluster (every operand on) to
// every child object being present.
func BenchmarkConvergence(b *testing.B) {
	spec := func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI = storageosv1.StorageOSClusterCSI{Enable: true, DeploymentStrategy: "statefulset", EnableProvisionCreds: true}
		s.Ingress = storageosv1.StorageOSClusterIngress{Enable: true, TLS: true, Hostname: "storageos.local"}
	}
	var total int64
	for b.Loop() {
		b.StopTimer()
		requests.Reset()
		b.StartTimer()
		c := createCluster(b, spec)
		want := expectedChildren(c)
		require.Eventually(b, func() bool { return countChildren(b, c) >= want }, timeout, 10*time.Millisecond)
		b.StopTimer()
		total += requests.Writes() + requests.Reads()
		deleteAndWait(b, c)
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
}

// expectedChildren is how many labelled objects the cluster's desired state has.
func expectedChildren(c *storageosv1.StorageOSCluster) int {
	fresh := c.DeepCopy()
	_ = testEnv.Client.Get(context.Background(), client.ObjectKeyFromObject(c), fresh)
	in := desired.Input{Cluster: fresh, KubeVersion: reconciler.KubeVersion, APISecret: map[string][]byte{}}
	n := 0
	for _, op := range desired.Operands {
		n += len(desired.Build(op, in))
	}
	return n
}

func countChildren(t testing.TB, c *storageosv1.StorageOSCluster) int {
	n := 0
	selector := client.MatchingLabels{names.LabelInstance: c.Name, names.LabelClusterNamespace: c.Namespace}
	for _, list := range cluster.ManagedLists() {
		require.NoError(t, testEnv.Client.List(context.Background(), list, selector))
		items, err := cluster.MetaItems(list)
		require.NoError(t, err)
		n += len(items)
	}
	return n
}

// BenchmarkMemoryWithUnrelatedObjects reports how much the manager's heap grows when 10,000 ConfigMaps,
// 10,000 Secrets and 10,000 Pods that are not StorageOS's exist in other namespaces: the cache holds only
// labelled objects, so they should cost next to nothing (target: under 10 MB).
func BenchmarkMemoryWithUnrelatedObjects(b *testing.B) {
	const perKind = 10000
	c := readyCluster(b)
	before := heapMB()
	for b.Loop() {
		b.StopTimer()
		createUnrelated(b, perKind)
		b.StartTimer()
	}
	// Let the informers see whatever they are going to see, and the controller resync.
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
	for range 5 {
		_, err := reconciler.Reconcile(context.Background(), req)
		require.NoError(b, err)
		time.Sleep(200 * time.Millisecond)
	}
	b.ReportMetric(heapMB()-before, "heap-growth-MB")
}

func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

var unrelatedOnce sync.Once

// createUnrelated creates perKind ConfigMaps, Secrets and Pods in 10 namespaces, once per test binary.
func createUnrelated(b *testing.B, perKind int) {
	unrelatedOnce.Do(func() {
		ctx := context.Background()
		var namespaces []string
		for i := range 10 {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%d", i)}}
			require.NoError(b, testEnv.Client.Create(ctx, ns))
			namespaces = append(namespaces, ns.Name)
		}
		jobs := make(chan client.Object)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for obj := range jobs {
					if err := testEnv.Client.Create(ctx, obj); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		payload := map[string]string{"data": string(make([]byte, 512))}
		for i := range perKind {
			ns := namespaces[i%len(namespaces)]
			meta := func(kind string) metav1.ObjectMeta {
				return metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", kind, i), Namespace: ns, Labels: map[string]string{"app": "unrelated"}}
			}
			jobs <- &corev1.ConfigMap{ObjectMeta: meta("cm"), Data: payload}
			jobs <- &corev1.Secret{ObjectMeta: meta("secret"), StringData: payload}
			jobs <- &corev1.Pod{ObjectMeta: meta("pod"), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
		}
		close(jobs)
		wg.Wait()
	})
}

// BenchmarkStatusFreshness measures, with the production poll periods, how long a change in the StorageOS API
// takes to reach the cluster's status: a node going offline that its pod's readiness also shows (the usual
// case when the node's process stops), a node coming back that only the API shows while the cluster is
// unsettled, and a node going offline that only the API shows while the cluster is settled (bounded by the
// settled poll: the price of one API call per 30 s). Then it counts the StorageOS API calls of a settled cluster over a minute.
func BenchmarkStatusFreshness(b *testing.B) {
	ctx := context.Background()
	var podSignalled, apiOnlyUnsettled, apiOnlySettled time.Duration
	var c *storageosv1.StorageOSCluster
	health := func(h storageos.NodeHealth) func() bool {
		return func() bool {
			fresh := &storageosv1.StorageOSCluster{}
			return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), fresh) == nil &&
				fresh.Status.NodeHealthStatus["node-f2"].Health == storageosv1.NodeHealthState(h)
		}
	}
	setHealth := func(h storageos.NodeHealth) {
		sim.SetNodes(storageos.Node{ID: "f1", Name: "node-f1", Health: storageos.NodeHealthOnline},
			storageos.Node{ID: "f2", Name: "node-f2", Health: h})
	}
	setReady := func(ready corev1.ConditionStatus) {
		pod := inNS(c, "storageos-node-f2", &corev1.Pod{})
		require.NoError(b, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod))
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		require.NoError(b, testEnv.Client.Status().Update(ctx, pod))
	}
	measure := func(cond func() bool) time.Duration {
		start := time.Now()
		require.Eventually(b, cond, timeout, 10*time.Millisecond)
		return time.Since(start)
	}
	for b.Loop() {
		b.StopTimer()
		c = settledCluster(b)
		b.StartTimer()
		setHealth(storageos.NodeHealthOffline)
		setReady(corev1.ConditionFalse)
		podSignalled += measure(health(storageos.NodeHealthOffline))
		// Back online in the API while the pod still reads unready: only the fast poll can tell. First let the
		// reconciles that follow the status write above pass, so the change lands between two polls.
		b.StopTimer()
		time.Sleep(time.Second)
		b.StartTimer()
		setHealth(storageos.NodeHealthOnline)
		apiOnlyUnsettled += measure(health(storageos.NodeHealthOnline))
		b.StopTimer()
		setReady(corev1.ConditionTrue)
		eventuallyCondition(b, c, cluster.ConditionNodesHealthy, metav1.ConditionTrue, cluster.ReasonReady)
		eventuallyCondition(b, c, cluster.ConditionDegraded, metav1.ConditionFalse, "")
		// Let the fast polls end: the next one finds nothing unsettled and waits the settled period.
		time.Sleep(4 * time.Second)
		b.StartTimer()
		setHealth(storageos.NodeHealthOffline)
		apiOnlySettled += measure(health(storageos.NodeHealthOffline))
		b.StopTimer()
		setHealth(storageos.NodeHealthOnline)
		deleteAndWait(b, c)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(podSignalled.Seconds()/n, "offline-with-pod-unready-s")
	b.ReportMetric(apiOnlyUnsettled.Seconds()/n, "online-api-only-unsettled-s")
	b.ReportMetric(apiOnlySettled.Seconds()/n, "offline-api-only-settled-s")

	b.StopTimer()
	c = settledCluster(b)
	eventuallyCondition(b, c, cluster.ConditionDegraded, metav1.ConditionFalse, "")
	time.Sleep(4 * time.Second)
	calls := func() int {
		return sim.Requests("GET /v2/nodes") + sim.Requests("GET /v2/cluster") + sim.Requests("PUT /v2/cluster") +
			sim.Requests("POST /v2/auth/login")
	}
	before, writes := calls(), requests.Writes()
	time.Sleep(time.Minute)
	b.ReportMetric(float64(calls()-before), "settled-api-calls/min")
	b.ReportMetric(float64(requests.Writes()-writes), "settled-kube-writes/min")
}
