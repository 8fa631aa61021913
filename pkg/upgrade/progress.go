package upgrade

import (
	"fmt"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// Progress is counted by the steps as they look (how many applications are down, how many node pods run the new
// image), handed over in their outcome, and written into status.progress by transition, with the step's own
// status write: a figure that changes costs no write of its own, and one that does not change costs none at all.
// Everything here is pure; progress_test.go tests it as a table.

// tally is a figure a step observed on its look: done of total.
type tally struct{ done, total int32 }

// counted is a tally of done of total, for an outcome.
func counted(done, total int) *tally { return &tally{done: int32(done), total: int32(total)} }

// recordProgress writes into the upgrade's progress what the step that ran saw (a nil tally: it did not look),
// then the summaries and the message of the phase the upgrade is now in.
func recordProgress(u *storageosv1.StorageOSUpgrade, out outcome) {
	p := &u.Status.Progress
	if a := out.applications; a != nil {
		p.ApplicationsScaledDown, p.Applications = a.done, a.total
	}
	if n := out.nodes; n != nil {
		p.NodesUpgraded, p.Nodes = n.done, n.total
	}
	p.ApplicationsSummary = fraction(p.ApplicationsScaledDown, p.Applications)
	p.NodesSummary = fraction(p.NodesUpgraded, p.Nodes)
	p.Message = progressMessage(&u.Status)
}

func fraction(done, total int32) string { return fmt.Sprintf("%d/%d", done, total) }

// progressMessage says in words the figure that moves in the upgrade's phase, e.g. "applications scaled down
// 120/200"; before the applications are scaled down, what the upgrade will do, once it knows.
func progressMessage(s *storageosv1.StorageOSUpgradeStatus) string {
	p := &s.Progress
	up := fraction(p.Applications-p.ApplicationsScaledDown, p.Applications)
	switch s.Phase {
	case storageosv1.UpgradePhaseScalingDown:
		return "applications scaled down " + fraction(p.ApplicationsScaledDown, p.Applications)
	case storageosv1.UpgradePhaseUpgrading:
		return "nodes upgraded " + fraction(p.NodesUpgraded, p.Nodes)
	case storageosv1.UpgradePhaseScalingUp:
		return "applications scaled up " + up
	case storageosv1.UpgradePhaseCompleted:
		return "nodes upgraded " + fraction(p.NodesUpgraded, p.Nodes) + ", applications scaled up " + up
	case storageosv1.UpgradePhaseRestoring:
		return "scaling " + quantity(p.Applications, "application", "applications") + " back"
	case storageosv1.UpgradePhaseFailed:
		if !s.ClusterPaused {
			return "" // refused or failed before the cluster was paused: nothing was scaled down
		}
		// Scaled back without waiting for them to be ready: the cluster may be broken.
		return "applications scaled back " + up
	}
	if p.Applications == 0 && p.Nodes == 0 {
		return "" // not known yet: the upgrade has not looked at the cluster
	}
	return quantity(p.Applications, "application", "applications") + " to scale down, " + quantity(p.Nodes, "node", "nodes") + " to upgrade"
}
