package nfs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/ssa"
)

const statusCluster = "storageos/storageos"

func statusClaim(name string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps"},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

func statusService(clusterIP string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "apps"},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP},
	}
}

// statusPod is the server's pod scheduled on node-1, running and ready, edited by mutate.
func statusPod(mutate func(*corev1.Pod)) []corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shared-0", Namespace: "apps"},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "nfsd", Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		},
	}
	if mutate != nil {
		mutate(&p)
	}
	return []corev1.Pod{p}
}

// serving is an observation of a server that clients can use: every later case spoils one part of it.
func serving() observation {
	return observation{
		cluster: statusCluster,
		service: statusService("10.0.0.5"),
		claim:   statusClaim("shared", corev1.ClaimBound),
		pods:    statusPod(nil),
	}
}

func exportAccess(mode string) func(*storageosv1.NFSServer) {
	return func(s *storageosv1.NFSServer) {
		s.Spec.Export = storageosv1.ExportSpec{Name: "data", Server: storageosv1.ServerSpec{AccessMode: mode}}
	}
}

type wantCondition struct {
	status metav1.ConditionStatus
	reason string
	// message is a part of the condition's message; "" checks nothing.
	message string
}

func TestSetStatus(t *testing.T) {
	cases := []struct {
		name         string
		server       func(*storageosv1.NFSServer)
		observe      func(*observation)
		reconciled   wantCondition
		ready        wantCondition
		phase        string
		remoteTarget string
		accessModes  string
	}{
		{
			name: "no StorageOSCluster",
			observe: func(o *observation) {
				*o = observation{}
			},
			reconciled:  wantCondition{metav1.ConditionFalse, ReasonNoCluster, "no StorageOSCluster"},
			ready:       wantCondition{metav1.ConditionFalse, ReasonClaimPending, "waiting for claim shared to be created"},
			phase:       "Pending",
			accessModes: "RW",
		},
		{
			// The objects are left as they are; the server may keep serving meanwhile.
			name:         "cluster paused",
			observe:      func(o *observation) { o.paused = true },
			reconciled:   wantCondition{metav1.ConditionFalse, ReasonPaused, "StorageOSCluster " + statusCluster + " is paused"},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, ""},
			phase:        "Running",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			// A timeout, an API server restarting: it may pass, so the server is not Failed for it.
			name: "transient apply error",
			observe: func(o *observation) {
				*o = observation{cluster: statusCluster,
					applyErr: errors.New(`applying StatefulSet apps/shared: the server was unable to return a response in the time allotted`)}
			},
			reconciled: wantCondition{metav1.ConditionFalse, ReasonApplyFailed,
				"applying StatefulSet apps/shared: the server was unable to return a response"},
			ready:       wantCondition{metav1.ConditionFalse, ReasonClaimPending, ""},
			phase:       "Pending",
			accessModes: "RW",
		},
		{
			// Kubernetes refuses what the spec asks: no retry changes that.
			name: "apply refused",
			observe: func(o *observation) {
				*o = observation{cluster: statusCluster,
					applyErr: apierrors.NewInvalid(schema.GroupKind{Kind: "PersistentVolumeClaim"}, "shared",
						field.ErrorList{field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity")})}
			},
			reconciled:  wantCondition{metav1.ConditionFalse, ReasonApplyFailed, "field can not be less than status.capacity"},
			ready:       wantCondition{metav1.ConditionFalse, ReasonClaimPending, ""},
			phase:       "Failed",
			accessModes: "RW",
		},
		{
			// A claim, Service or ConfigMap of the same name made for something else is not taken over.
			name: "an object in the way",
			observe: func(o *observation) {
				*o = observation{cluster: statusCluster,
					applyErr: &ssa.NotOursError{Kind: "Service", Name: "apps/shared", Owner: "NFSServer shared"}}
			},
			reconciled:  wantCondition{metav1.ConditionFalse, ReasonApplyFailed, "Service apps/shared already exists"},
			ready:       wantCondition{metav1.ConditionFalse, ReasonClaimPending, ""},
			phase:       "Failed",
			accessModes: "RW",
		},
		{
			// Taking over the original operator's objects waits for their deletion: that is progress, not failure.
			name: "adopting the original operator's object",
			observe: func(o *observation) {
				*o = observation{cluster: statusCluster, applyErr: fmt.Errorf("applying: %w",
					&ssa.WaitingForLegacyError{Kind: "StatefulSet", Name: "apps/shared", Deleted: true})}
			},
			reconciled:  wantCondition{metav1.ConditionFalse, ReasonAdopting, "taking over StatefulSet apps/shared"},
			ready:       wantCondition{metav1.ConditionFalse, ReasonClaimPending, ""},
			phase:       "Pending",
			accessModes: "RW",
		},
		{
			name:         "deleting",
			observe:      func(o *observation) { o.deleting = true },
			reconciled:   wantCondition{metav1.ConditionFalse, ReasonDeleting, "deleting"},
			ready:        wantCondition{metav1.ConditionFalse, ReasonDeleting, "deleting"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name: "deleting after an apply error is not Failed",
			observe: func(o *observation) {
				o.deleting = true
				o.applyErr = errors.New("applying: boom")
			},
			reconciled:   wantCondition{metav1.ConditionFalse, ReasonDeleting, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonDeleting, ""},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			// The operator will not create a claim it does not own: someone has to.
			name:       "named claim missing",
			server:     func(s *storageosv1.NFSServer) { s.Spec.PersistentVolumeClaim.ClaimName = "existing" },
			observe:    func(o *observation) { o.claim, o.pods = nil, nil },
			reconciled: wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready: wantCondition{metav1.ConditionFalse, ReasonClaimMissing,
				"persistentVolumeClaim.claimName existing does not exist in namespace apps"},
			phase:        "Failed",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:         "own claim not created yet",
			observe:      func(o *observation) { o.claim, o.pods = nil, nil },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonClaimPending, "waiting for claim shared to be created"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:         "own claim Pending",
			observe:      func(o *observation) { o.claim, o.pods = statusClaim("shared", corev1.ClaimPending), nil },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonClaimPending, "claim shared is Pending: waiting for its volume"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			// A Lost claim's volume is gone: nothing recovers it without someone's help.
			name:         "own claim Lost",
			observe:      func(o *observation) { o.claim, o.pods = statusClaim("shared", corev1.ClaimLost), nil },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonClaimLost, "claim shared is Lost"},
			phase:        "Failed",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			// A claim just created has no phase yet: it is pending all the same.
			name:         "own claim without a phase",
			observe:      func(o *observation) { o.claim, o.pods = statusClaim("shared", ""), nil },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonClaimPending, "claim shared is Pending"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:         "named claim bound but no pod yet",
			server:       func(s *storageosv1.NFSServer) { s.Spec.PersistentVolumeClaim.ClaimName = "existing" },
			observe:      func(o *observation) { o.claim, o.pods = statusClaim("existing", corev1.ClaimBound), nil },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonNoPod, "waiting for the StatefulSet to create the server pod"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			// The scheduler's reason is what the user needs to act on.
			name: "pod not scheduled",
			observe: func(o *observation) {
				o.pods = statusPod(func(p *corev1.Pod) {
					p.Spec.NodeName = ""
					p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
						Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
						Message: "0/3 nodes are available: 3 node(s) had untolerated taint {storage: }."}}}
				})
			},
			reconciled: wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready: wantCondition{metav1.ConditionFalse, ReasonPodPending,
				"pod shared-0 is not scheduled: 0/3 nodes are available: 3 node(s) had untolerated taint {storage: }."},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name: "image cannot be pulled",
			observe: func(o *observation) {
				o.pods = statusPod(func(p *corev1.Pod) {
					p.Status.Phase = corev1.PodPending
					p.Status.Conditions[1].Status = corev1.ConditionFalse
					p.Status.ContainerStatuses[0].Ready = false
					p.Status.ContainerStatuses[0].State = corev1.ContainerState{
						Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}
				})
			},
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonPodFailing, "pod shared-0: ErrImagePull"},
			phase:        "Failed",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name: "container crashing",
			observe: func(o *observation) {
				o.pods = statusPod(func(p *corev1.Pod) {
					p.Status.Conditions[1].Status = corev1.ConditionFalse
					p.Status.ContainerStatuses[0].Ready = false
					p.Status.ContainerStatuses[0].State = corev1.ContainerState{
						Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
				})
			},
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonPodFailing, "pod shared-0: CrashLoopBackOff"},
			phase:        "Failed",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name: "pod running but not ready",
			observe: func(o *observation) {
				o.pods = statusPod(func(p *corev1.Pod) { p.Status.Conditions[1].Status = corev1.ConditionFalse })
			},
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionFalse, ReasonPodNotReady, "pod shared-0 on node-1 is not ready"},
			phase:        "Pending",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:        "Service without a cluster IP yet",
			observe:     func(o *observation) { o.service = statusService("") },
			reconciled:  wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:       wantCondition{metav1.ConditionFalse, ReasonNoService, "waiting for Service shared to get a cluster IP"},
			phase:       "Pending",
			accessModes: "RW",
		},
		{
			name:        "Service not observed",
			observe:     func(o *observation) { o.service = nil },
			reconciled:  wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:       wantCondition{metav1.ConditionFalse, ReasonNoService, ""},
			phase:       "Pending",
			accessModes: "RW",
		},
		{
			name:         "ready",
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, "the server's objects match the spec"},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, "serving /shared at 10.0.0.5:2049"},
			phase:        "Running",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:         "ready on IPv6",
			observe:      func(o *observation) { o.service = statusService("fd00::5") },
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, "serving /shared at [fd00::5]:2049"},
			phase:        "Running",
			remoteTarget: "[fd00::5]:2049",
			accessModes:  "RW",
		},
		{
			name:   "ready serving a named claim",
			server: func(s *storageosv1.NFSServer) { s.Spec.PersistentVolumeClaim.ClaimName = "existing" },
			observe: func(o *observation) {
				o.claim = statusClaim("existing", corev1.ClaimBound)
			},
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, "serving /existing at 10.0.0.5:2049"},
			phase:        "Running",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RW",
		},
		{
			name:         "ready read-only export",
			server:       exportAccess("ReadOnly"),
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, ""},
			phase:        "Running",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "RO",
		},
		{
			name:         "ready export without access",
			server:       exportAccess("none"),
			reconciled:   wantCondition{metav1.ConditionTrue, ReasonAsExpected, ""},
			ready:        wantCondition{metav1.ConditionTrue, ReasonReady, ""},
			phase:        "Running",
			remoteTarget: "10.0.0.5:2049",
			accessModes:  "None",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nfs := fixtureServer(tc.server)
			o := serving()
			if tc.observe != nil {
				tc.observe(&o)
			}
			setStatus(nfs, o)
			st := nfs.Status

			checkCondition(t, st.Conditions, ConditionReconciled, tc.reconciled)
			checkCondition(t, st.Conditions, ConditionReady, tc.ready)
			assert.Len(t, st.Conditions, 2, "only Reconciled and Ready")
			for _, c := range st.Conditions {
				assert.Equal(t, nfs.Generation, c.ObservedGeneration, "condition %s observed the object's generation", c.Type)
			}
			assert.Equal(t, tc.phase, st.Phase)
			assert.Equal(t, tc.remoteTarget, st.RemoteTarget)
			assert.Equal(t, tc.accessModes, st.AccessModes)
			// Observing a generation means its spec was applied: only when the objects match it.
			if tc.reconciled.status == metav1.ConditionTrue {
				assert.Equal(t, nfs.Generation, st.ObservedGeneration)
			} else {
				assert.Zero(t, st.ObservedGeneration)
			}
		})
	}
}

func checkCondition(t *testing.T, conditions []metav1.Condition, typ string, want wantCondition) {
	t.Helper()
	c := meta.FindStatusCondition(conditions, typ)
	require.NotNil(t, c, "condition %s", typ)
	assert.Equal(t, want.status, c.Status, "%s status", typ)
	assert.Equal(t, want.reason, c.Reason, "%s reason", typ)
	assert.Contains(t, c.Message, want.message, "%s message", typ)
	assert.NotEmpty(t, c.Message, "%s message", typ)
	assert.False(t, c.LastTransitionTime.IsZero(), "%s lastTransitionTime", typ)
}

// A status that is not reconciled keeps the generation it last reconciled: moving it on would claim the new
// spec was applied.
func TestSetStatusKeepsObservedGenerationUntilReconciled(t *testing.T) {
	nfs := fixtureServer(nil)
	nfs.Status.ObservedGeneration = 2
	o := serving()
	o.applyErr = errors.New("applying: boom")
	setStatus(nfs, o)
	assert.Equal(t, int64(2), nfs.Status.ObservedGeneration)

	o.applyErr = nil
	setStatus(nfs, o)
	assert.Equal(t, nfs.Generation, nfs.Status.ObservedGeneration)
}

// A later reconcile replaces the conditions of an earlier one rather than adding to them.
func TestSetStatusUpdatesConditionsInPlace(t *testing.T) {
	nfs := fixtureServer(nil)
	o := serving()
	o.pods = nil
	setStatus(nfs, o)
	require.Equal(t, ReasonNoPod, meta.FindStatusCondition(nfs.Status.Conditions, ConditionReady).Reason)

	nfs.Generation = 5
	setStatus(nfs, serving())
	require.Len(t, nfs.Status.Conditions, 2)
	ready := meta.FindStatusCondition(nfs.Status.Conditions, ConditionReady)
	assert.Equal(t, metav1.ConditionTrue, ready.Status)
	assert.Equal(t, int64(5), ready.ObservedGeneration)
	assert.Equal(t, "Running", nfs.Status.Phase)
}

func TestRemoteTarget(t *testing.T) {
	cases := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"no Service", nil, ""},
		{"no cluster IP yet", statusService(""), ""},
		// A headless Service has no address to mount.
		{"headless", statusService(corev1.ClusterIPNone), ""},
		{"IPv4", statusService("10.0.0.5"), "10.0.0.5:2049"},
		{"IPv6 is bracketed", statusService("fd00::5"), "[fd00::5]:2049"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, RemoteTarget(tc.svc))
		})
	}
}
