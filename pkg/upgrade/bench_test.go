//go:build !mutation

package upgrade_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// BenchmarkScaleDownUp200 upgrades a cluster with 200 StorageOS-backed applications (one replica each, beside
// the world's own) and reports the time and the upgrade-manager's API requests of the scale-down step (record,
// scale to zero, wait until the pods are gone) and of the scale-up step (scale back, wait until ready). The
// fake controllers share the machine, so the times are upper bounds.
func BenchmarkScaleDownUp200(b *testing.B) {
	const apps = 200
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		ctx := context.Background()
		for i := range apps {
			name := fmt.Sprintf("app-%03d", i)
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.appNS}, Spec: claimSpec("storageos-fast")}
			require.NoError(b, testEnv.Client.Create(ctx, claim))
			require.NoError(b, testEnv.Client.Create(ctx, deployment(w.appNS, name, 1, pvcVolume(name))))
		}
		require.Eventually(b, func() bool { return w.runningPods() >= apps }, timeout, tick)
		m := startManager(b, managerOptions{stepTimeout: 10 * time.Minute})
		requests.Reset()
		b.StartTimer()

		u := createUpgrade(b, w.cluster.Namespace, newImage)
		seen := map[storageosv1.UpgradePhase]time.Time{}
		reads := map[storageosv1.UpgradePhase]int64{}
		writes := map[storageosv1.UpgradePhase]int64{}
		require.Eventually(b, func() bool {
			p := get(b, u).Status.Phase
			if _, ok := seen[p]; !ok {
				seen[p], reads[p], writes[p] = time.Now(), requests.Reads(), requests.Writes()
			}
			return p == storageosv1.UpgradePhaseCompleted
		}, 10*time.Minute, 20*time.Millisecond)
		b.StopTimer()

		down, up := storageosv1.UpgradePhaseScalingDown, storageosv1.UpgradePhaseScalingUp
		next := map[storageosv1.UpgradePhase]storageosv1.UpgradePhase{down: storageosv1.UpgradePhaseUpgrading, up: storageosv1.UpgradePhaseCompleted}
		for _, p := range []storageosv1.UpgradePhase{down, up} {
			require.Contains(b, seen, p)
			n := next[p]
			b.ReportMetric(seen[n].Sub(seen[p]).Seconds(), string(p)+"-s")
			b.ReportMetric(float64(reads[n]-reads[p]), string(p)+"-reads")
			b.ReportMetric(float64(writes[n]-writes[p]), string(p)+"-writes")
		}
		got := get(b, u)
		require.Len(b, got.Status.Workloads, apps+len(wantWorkloads))
		m.stop(b)
	}
}
