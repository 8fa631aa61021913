//go:build !mutation

package nfs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/nfs"
)

const (
	timeout = 90 * time.Second
	tick    = 100 * time.Millisecond
)

// eventually polls check until it returns nil, and fails the test with its last error after the timeout.
func eventually(t *testing.T, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(tick)
	}
}

// exampleServer is the original operator's example NFSServer.
func exampleServer(ns, name string) *storageosv1.NFSServer {
	return &storageosv1.NFSServer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: storageosv1.NFSServerSpec{Resources: storageosv1.NFSServerResources{
			Requests: map[corev1.ResourceName]storageosv1.Quantity{corev1.ResourceStorage: {Quantity: resource.MustParse("1Gi")}},
		}},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, testEnv.Client.Create(context.Background(), obj))
}

// update re-reads obj, applies edit and writes it, retrying on conflicts with the controller's writes.
func update[T client.Object](t *testing.T, obj T, edit func(T)) {
	t.Helper()
	eventually(t, "updating "+obj.GetName(), func(ctx context.Context) error {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		edit(obj)
		return testEnv.Client.Update(ctx, obj)
	})
}

// child waits for the server's object of that name and kind, and returns it once check accepts it.
func child[T client.Object](t *testing.T, obj T, ns, name string, check func(T) error) T {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s/%s", obj, ns, name), func(ctx context.Context) error {
		if err := testEnv.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			return err
		}
		if check == nil {
			return nil
		}
		return check(obj)
	})
	return obj
}

// serverStatus waits until the server's status passes check.
func serverStatus(t *testing.T, s *storageosv1.NFSServer, check func(*storageosv1.NFSServer) error) {
	t.Helper()
	child(t, s, s.Namespace, s.Name, check)
}

// hasCondition checks a condition's status and reason, and that it describes the current generation.
func hasCondition(s *storageosv1.NFSServer, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(s.Status.Conditions, typ)
	switch {
	case c == nil:
		return fmt.Errorf("no %s condition yet", typ)
	case c.Status != status || c.Reason != reason:
		return fmt.Errorf("%s is %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	case c.ObservedGeneration != s.Generation:
		return fmt.Errorf("%s describes generation %d, not %d", typ, c.ObservedGeneration, s.Generation)
	}
	return nil
}

// bindClaim plays the provisioner and the volume binder: a StorageOS volume is bound to the claim.
func bindClaim(t *testing.T, ns, name string) *corev1.PersistentVolume {
	t.Helper()
	claim := child(t, &corev1.PersistentVolumeClaim{}, ns, name, nil)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(claim.UID)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: name, UID: claim.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: names.CSIDriver, VolumeHandle: string(claim.UID)}},
		},
	}
	create(t, pv)
	update(t, claim, func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = pv.Name })
	eventually(t, "claim bound", func(ctx context.Context) error {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(claim), claim); err != nil {
			return err
		}
		claim.Status.Phase = corev1.ClaimBound
		return testEnv.Client.Status().Update(ctx, claim)
	})
	return pv
}

// runPod plays the StatefulSet controller, the scheduler and the kubelet: the server's pod runs on node-1,
// ready or not.
func runPod(t *testing.T, s *storageosv1.NFSServer, ready bool) *corev1.Pod {
	t.Helper()
	sts := child(t, &appsv1.StatefulSet{}, s.Namespace, s.Name, nil)
	labels := sts.Spec.Template.Labels
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: s.Name + "-0", Namespace: s.Namespace, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: nfs.ContainerName, Image: "storageos/nfs:1.0.0"}}},
	}
	create(t, pod)
	setPodReady(t, pod, ready)
	return pod
}

func setPodReady(t *testing.T, pod *corev1.Pod, ready bool) {
	t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	eventually(t, "pod status", func(ctx context.Context) error {
		if err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			return err
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: nfs.ContainerName,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		return testEnv.Client.Status().Update(ctx, pod)
	})
}

// eventsOf returns the events about the server with that reason.
func eventsOf(ctx context.Context, s *storageosv1.NFSServer, reason string) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := testEnv.Client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == s.Name && e.Regarding.Kind == "NFSServer" && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out, nil
}

// gone waits until the object no longer exists.
func gone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func(ctx context.Context) error {
		err := testEnv.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if err == nil {
			return fmt.Errorf("still there")
		}
		return client.IgnoreNotFound(err)
	})
}
