package soak

import (
	"math/rand/v2"
	"time"
)

// What a step does. User actions are what platform engineers and application teams do to a cluster; faults
// are what happens to it anyway.
const (
	EditCluster    = "edit the StorageOSCluster"
	RotateSecret   = "rotate the API credentials"
	CreateJob      = "create a Job"
	Upgrade        = "create or start an upgrade"
	CreateNFS      = "create an NFSServer"
	EditNFS        = "edit an NFSServer"
	DeleteNFS      = "delete an NFSServer"
	CreateApp      = "create an application"
	ScaleApp       = "scale an application"
	DeleteApp      = "delete an application"
	CreatePod      = "create a bare pod"
	KillManager    = "SIGKILL a manager process"
	RestartAPI     = "restart kube-apiserver"
	RestartEtcd    = "restart etcd"
	StorageOSDown  = "StorageOS API down"
	StorageOSSlow  = "StorageOS API slow"
	NodeNotReady   = "node NotReady"
	WebhookCertDel = "delete the webhook's certificate Secret"
)

// weights are how often each step comes, relative to the others.
var weights = []struct {
	kind   string
	weight int
	fault  bool
}{
	{EditCluster, 4, false}, {RotateSecret, 1, false}, {CreateJob, 2, false}, {Upgrade, 2, false},
	{CreateNFS, 1, false}, {EditNFS, 1, false}, {DeleteNFS, 1, false},
	{CreateApp, 3, false}, {ScaleApp, 2, false}, {DeleteApp, 1, false}, {CreatePod, 2, false},
	{KillManager, 4, true}, {RestartAPI, 1, true}, {RestartEtcd, 1, true}, {StorageOSDown, 1, true},
	{StorageOSSlow, 1, true}, {NodeNotReady, 1, true}, {WebhookCertDel, 1, true},
}

// isFault reports whether kind is a fault rather than a user action.
func isFault(kind string) bool {
	for _, w := range weights {
		if w.kind == kind {
			return w.fault
		}
	}
	return false
}

// step is one entry of the schedule. Every random choice is drawn when the schedule is made, so a seed
// replays the same steps in the same order at the same times; what each step acts on is chosen by pick among
// the driver's own objects, which the earlier steps made.
type step struct {
	// at is the step's time from the start of the soak.
	at   time.Duration
	kind string
	// pick chooses what the step acts on (a manager process, a node, an application, an edit).
	pick int
	// n is the step's number: replicas, or how long a fault lasts in seconds.
	n int
}

// Gaps between steps are drawn between these: often enough that faults meet work under way, rarely enough
// that a small machine can tell one step's effects from the next's.
const minGap, maxGap = 4 * time.Second, 12 * time.Second

// schedule draws the soak's steps for duration from seed.
func schedule(seed int64, duration time.Duration) []step {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x50a4)) //nolint:gosec // a seeded schedule, not a secret
	total := 0
	for _, w := range weights {
		total += w.weight
	}
	var steps []step
	for at := minGap; at < duration; at += minGap + time.Duration(rng.Int64N(int64(maxGap-minGap))) {
		x := rng.IntN(total)
		kind := ""
		for _, w := range weights {
			if x < w.weight {
				kind = w.kind
				break
			}
			x -= w.weight
		}
		steps = append(steps, step{at: at, kind: kind, pick: rng.IntN(1 << 16), n: rng.IntN(1 << 16)})
	}
	return steps
}

// between is n mapped onto [low, high].
func between(n, low, high int) int { return low + n%(high-low+1) }
