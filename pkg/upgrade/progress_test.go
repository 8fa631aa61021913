package upgrade

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Progress without an API server: the upgrade's progress before, a step's outcome in, the progress written
// with the step's status out.
func TestProgress(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	const timeout = 10 * time.Minute
	counts := func(apps, down, nodes, upgraded int32) storageosv1.UpgradeProgress {
		return storageosv1.UpgradeProgress{Applications: apps, ApplicationsScaledDown: down, Nodes: nodes, NodesUpgraded: upgraded}
	}
	withCounts := func(out outcome, apps, nodes *tally) outcome {
		out.applications, out.nodes = apps, nodes
		return out
	}
	type want struct {
		progress     storageosv1.UpgradeProgress // counts only
		apps, nodes  string
		message      string
		startTimeSet bool
	}
	cases := []struct {
		name   string
		phase  storageosv1.UpgradePhase
		paused bool
		before storageosv1.UpgradeProgress
		out    outcome
		want   want
	}{
		{"waiting to start, nothing known yet", "", false, storageosv1.UpgradeProgress{}, wait("cluster Running"),
			want{apps: "0/0", nodes: "0/0"}},
		{"previewing: what the upgrade would do, in words of their number", storageosv1.UpgradePhasePending, false, storageosv1.UpgradeProgress{},
			withCounts(wait("spec.preview to be false"), counted(0, 1), counted(0, 1)),
			want{progress: counts(1, 0, 1, 0), apps: "0/1", nodes: "0/1", message: "1 application to scale down, 1 node to upgrade"}},
		{"starting: what the upgrade will do", storageosv1.UpgradePhasePending, false, storageosv1.UpgradeProgress{},
			withCounts(advance(storageosv1.UpgradePhasePullingImage), counted(0, 200), counted(0, 100)),
			want{progress: counts(200, 0, 100, 0), apps: "0/200", nodes: "0/100",
				message: "200 applications to scale down, 100 nodes to upgrade", startTimeSet: true}},
		{"a step that did not count keeps the figures", storageosv1.UpgradePhasePullingImage, false, counts(200, 0, 100, 0),
			wait("image pulled on 3 of 100 nodes"),
			want{progress: counts(200, 0, 100, 0), apps: "0/200", nodes: "0/100", message: "200 applications to scale down, 100 nodes to upgrade"}},
		{"scaling down", storageosv1.UpgradePhaseScalingDown, true, counts(200, 80, 100, 0),
			withCounts(wait("12 pods of 200 applications still exist"), counted(120, 200), nil),
			want{progress: counts(200, 120, 100, 0), apps: "120/200", nodes: "0/100", message: "applications scaled down 120/200"}},
		{"an application found while scaling down adds to the total", storageosv1.UpgradePhaseScalingDown, true, counts(200, 120, 100, 0),
			withCounts(wait("1 pod of 201 applications still exist"), counted(200, 201), nil),
			want{progress: counts(201, 200, 100, 0), apps: "200/201", nodes: "0/100", message: "applications scaled down 200/201"}},
		{"every application down: the nodes are next", storageosv1.UpgradePhaseScalingDown, true, counts(200, 199, 100, 0),
			withCounts(advance(storageosv1.UpgradePhaseUpgrading), counted(200, 200), nil),
			want{progress: counts(200, 200, 100, 0), apps: "200/200", nodes: "0/100", message: "nodes upgraded 0/100"}},
		{"upgrading nodes", storageosv1.UpgradePhaseUpgrading, true, counts(200, 200, 100, 0),
			withCounts(wait("37 of 100 node pods run storageos/node:v2.6.0 and are ready"), nil, counted(37, 100)),
			want{progress: counts(200, 200, 100, 37), apps: "200/200", nodes: "37/100", message: "nodes upgraded 37/100"}},
		{"scaling up counts down what is not ready yet", storageosv1.UpgradePhaseScalingUp, true, counts(200, 200, 100, 100),
			withCounts(wait("50 of 200 applications are not ready yet"), counted(50, 200), nil),
			want{progress: counts(200, 50, 100, 100), apps: "50/200", nodes: "100/100", message: "applications scaled up 150/200"}},
		{"completed", storageosv1.UpgradePhaseScalingUp, true, counts(200, 50, 100, 100),
			withCounts(advance(storageosv1.UpgradePhaseCompleted), counted(0, 200), nil),
			want{progress: counts(200, 0, 100, 100), apps: "0/200", nodes: "100/100",
				message: "nodes upgraded 100/100, applications scaled up 200/200"}},
		{"failed after the applications were scaled back", storageosv1.UpgradePhaseRestoring, true, counts(200, 200, 100, 38),
			withCounts(advance(storageosv1.UpgradePhaseFailed), counted(0, 200), nil),
			want{progress: counts(200, 0, 100, 38), apps: "0/200", nodes: "38/100", message: "applications scaled back 200/200"}},
		{"refused before anything was scaled", storageosv1.UpgradePhasePending, false, storageosv1.UpgradeProgress{},
			outcome{failure: "the cluster already runs storageos/node:v2.6.0", failReason: ReasonImageUnchanged},
			want{apps: "0/0", nodes: "0/0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &storageosv1.StorageOSUpgrade{Spec: storageosv1.StorageOSUpgradeSpec{NewImage: "storageos/node:v2.6.0"}}
			u.Status.Phase, u.Status.ClusterPaused, u.Status.Progress = tc.phase, tc.paused, tc.before
			u.Status.Cluster = &storageosv1.ClusterReference{Namespace: "default", Name: "example"}
			if tc.phase != "" {
				u.Status.PhaseStartTime = &metav1.Time{Time: now.Add(-time.Minute)}
			}
			transition(u, tc.phase, tc.out, now, timeout)

			p := u.Status.Progress
			got := p
			got.ApplicationsSummary, got.NodesSummary, got.Message, got.StartTime = "", "", "", nil
			assert.Equal(t, tc.want.progress, got)
			assert.Equal(t, tc.want.apps, p.ApplicationsSummary)
			assert.Equal(t, tc.want.nodes, p.NodesSummary)
			assert.Equal(t, tc.want.message, p.Message)
			if tc.want.startTimeSet {
				if assert.NotNil(t, p.StartTime) {
					assert.Equal(t, now, *p.StartTime, "the upgrade's work starts now")
				}
			} else {
				assert.Nil(t, p.StartTime)
			}
			assert.NotNil(t, u.Status.PhaseStartTime, "every phase, Pending too, has a start")
		})
	}
}

// The upgrade's start is when it left Pending, and stays so through the later steps.
func TestProgressStartTimeIsKept(t *testing.T) {
	start := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	u := &storageosv1.StorageOSUpgrade{}
	u.Status.Cluster = &storageosv1.ClusterReference{Namespace: "default", Name: "example"}
	transition(u, "", advance(storageosv1.UpgradePhasePullingImage), start, time.Hour)
	later := metav1.NewTime(start.Add(time.Minute))
	transition(u, storageosv1.UpgradePhasePullingImage, advance(storageosv1.UpgradePhasePausing), later, time.Hour)
	assert.Equal(t, start, *u.Status.Progress.StartTime)
	assert.Equal(t, later, *u.Status.PhaseStartTime)
	u.Status.PhaseStartTime.Time = later.Add(time.Hour)
	assert.Equal(t, start, *u.Status.Progress.StartTime, "the start is a copy, not the phase's start")
}

// A step that times out (no more nodes upgraded for the step timeout: one fewer on its last look) fails with
// what it counted on that look.
func TestProgressOfATimedOutStep(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	u := &storageosv1.StorageOSUpgrade{}
	u.Status.Cluster = &storageosv1.ClusterReference{Namespace: "default", Name: "example"}
	u.Status.Phase, u.Status.ClusterPaused = storageosv1.UpgradePhaseUpgrading, true
	u.Status.PhaseStartTime = &metav1.Time{Time: now.Add(-time.Hour)}
	u.Status.Progress = storageosv1.UpgradeProgress{Applications: 200, ApplicationsScaledDown: 200, Nodes: 100, NodesUpgraded: 39}
	u.Status.PhaseProgress = 39 // the most nodes upgraded the step ever counted
	out := wait("38 of 100 node pods run storageos/node:v2.6.0 and are ready")
	out.nodes = counted(38, 100)
	transition(u, storageosv1.UpgradePhaseUpgrading, out, now, 10*time.Minute)
	assert.Equal(t, storageosv1.UpgradePhaseRestoring, u.Status.Phase)
	assert.Equal(t, int32(38), u.Status.Progress.NodesUpgraded)
	assert.Equal(t, "38/100", u.Status.Progress.NodesSummary)
	assert.Equal(t, "scaling 200 applications back", u.Status.Progress.Message)
}
