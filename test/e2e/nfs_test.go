//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/nfs"
)

const nfsNamespace = "nfs"

// The original's example NFSServer on the simulated cluster: served on a kwok node, an export edit rolls the
// server, and deleting it leaves nothing. Then the ReadWriteMany flow as StorageOS runs it.
func testNFSServer(t *testing.T) {
	ctx := context.Background()
	createNamespace(t, nfsNamespace)
	root, err := envtest.RepoRoot()
	require.NoError(t, err)

	start := time.Now()
	_, err = env.Kubectl(ctx, "apply", "-n", nfsNamespace, "-f", filepath.Join(root, "config", "samples", "storageos_v1_nfsserver.yaml"))
	require.NoError(t, err)
	server := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Namespace: nfsNamespace, Name: "example-nfsserver"}}
	serverRunning(t, server)
	t.Logf("example NFSServer Running %s after kubectl apply", time.Since(start).Round(100*time.Millisecond))

	sts := &appsv1.StatefulSet{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(server), sts))
	assert.Equal(t, int32(1), sts.Status.ReadyReplicas, "StatefulSet 1/1")
	svc := &corev1.Service{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(server), svc))
	out, err := env.Kubectl(ctx, "get", "nfsserver", "-n", nfsNamespace)
	require.NoError(t, err)
	t.Logf("kubectl get nfsserver:\n%s", out)
	assert.Regexp(t, `example-nfsserver\s+Running\s+1Gi\s+`+regexp.QuoteMeta(svc.Spec.ClusterIP)+`:2049\s+RW\s+`+demo.StorageClassName, out)
	pod := serverPod(t, server)

	// An export edit reaches the Ganesha configuration, and the server pod is replaced to read it.
	start = time.Now()
	_, err = env.Kubectl(ctx, "patch", "nfsserver", server.Name, "-n", nfsNamespace, "--type=merge",
		"-p", `{"spec":{"export":{"name":"share","server":{"accessMode":"ReadOnly"}}}}`)
	require.NoError(t, err)
	eventually(t, timeout, "the ConfigMap exports read-only", func(ctx context.Context) error {
		cm := &corev1.ConfigMap{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(server), cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data[server.Name], "Access_Type = RO;") {
			return errors.New("still read-write")
		}
		return nil
	})
	eventually(t, timeout, "the server pod replaced and ready", func(ctx context.Context) error {
		var pods corev1.PodList
		if err := env.Client.List(ctx, &pods, client.InNamespace(nfsNamespace), client.MatchingLabels(nfs.PodSelector(server))); err != nil {
			return err
		}
		if len(pods.Items) != 1 || pods.Items[0].UID == pod.UID || !podReady(&pods.Items[0]) {
			return fmt.Errorf("%d pods, the old one or not ready yet", len(pods.Items))
		}
		return nil
	})
	serverRunning(t, server)
	assert.Equal(t, "RO", server.Status.AccessModes)
	t.Logf("export edit rolled the server in %s", time.Since(start).Round(100*time.Millisecond))

	// Delete: the server's objects and its claim go (the default reclaim policy), and with the claim its volume.
	start = time.Now()
	claim := &corev1.PersistentVolumeClaim{}
	require.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(server), claim))
	volume := claim.Spec.VolumeName
	require.NoError(t, env.Client.Delete(ctx, server))
	eventually(t, timeout, "nothing of the NFSServer left", func(ctx context.Context) error {
		return nfsLeftovers(ctx, server, volume)
	})
	t.Logf("NFSServer and everything it made deleted in %s", time.Since(start).Round(100*time.Millisecond))

	testReadWriteManyFlow(t)
	require.NoError(t, env.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nfsNamespace}}))
}

// testReadWriteManyFlow plays StorageOS's control plane: a ReadWriteMany claim of the StorageOS class gets an
// NFSServer named pvc-<uid>. A pod mounting that claim is a StorageOS pod — its volume is StorageOS's, mounted
// by the StorageOS node on the chosen node — so it goes to the StorageOS scheduler, which only picks nodes
// where StorageOS runs. A pod mounting the export directly through an NFS PersistentVolume of no StorageOS
// class does not: any node can mount NFS.
func testReadWriteManyFlow(t *testing.T) {
	ctx := context.Background()
	class := demo.StorageClassName
	shared := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: nfsNamespace},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resourceGi}}},
	}
	require.NoError(t, env.Client.Create(ctx, shared))
	server := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Namespace: nfsNamespace, Name: "pvc-" + string(shared.UID)}}
	server.Spec.Resources.Requests = map[corev1.ResourceName]storageosv1.Quantity{corev1.ResourceStorage: {Quantity: resourceGi}}
	require.NoError(t, env.Client.Create(ctx, server))
	serverRunning(t, server)

	rwx := demo.Deployment(nfsNamespace, "rwx-client", 2, &corev1.Volume{Name: "data",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: shared.Name}}})
	require.NoError(t, env.Client.Create(ctx, rwx))

	host, _, _ := strings.Cut(server.Status.RemoteTarget, ":")
	export := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "nfs-export-" + string(shared.UID)},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resourceGi},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: nfsNamespace, Name: "direct"},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: host, Path: "/" + server.Name}},
		},
	}
	require.NoError(t, env.Client.Create(ctx, export))
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), export) })
	direct := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "direct", Namespace: nfsNamespace},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(""), VolumeName: export.Name,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resourceGi}}},
	}
	require.NoError(t, env.Client.Create(ctx, direct))
	nfsClient := demo.Deployment(nfsNamespace, "nfs-client", 1, &corev1.Volume{Name: "data",
		VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: direct.Name}}})
	require.NoError(t, env.Client.Create(ctx, nfsClient))

	for d, want := range map[*appsv1.Deployment]string{rwx: "storageos-scheduler", nfsClient: corev1.DefaultSchedulerName} {
		eventually(t, timeout, d.Name+" admitted, scheduled by "+want+" and ready", func(ctx context.Context) error {
			pods, err := podsOf(ctx, d)
			if err != nil {
				return err
			}
			for _, p := range pods {
				if p.Spec.SchedulerName != want {
					return fmt.Errorf("pod %s has scheduler %q", p.Name, p.Spec.SchedulerName)
				}
			}
			return deploymentReady(ctx, d, ptr.Deref(d.Spec.Replicas, 1))
		})
	}
}

// serverRunning waits until the NFSServer is Running and its status is current.
func serverRunning(t *testing.T, server *storageosv1.NFSServer) {
	t.Helper()
	eventually(t, timeout, "NFSServer "+server.Name+" Running", func(ctx context.Context) error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(server), server); err != nil {
			return err
		}
		ready := condition(server.Status.Conditions, nfs.ConditionReady)
		if server.Status.Phase != storageosv1.NFSServerPhaseRunning || ready == nil || ready.ObservedGeneration != server.Generation ||
			server.Status.ObservedGeneration != server.Generation {
			return fmt.Errorf("phase %q, Ready %+v", server.Status.Phase, ready)
		}
		return nil
	})
}

func serverPod(t *testing.T, server *storageosv1.NFSServer) *corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	require.NoError(t, env.Client.List(context.Background(), &pods, client.InNamespace(nfsNamespace),
		client.MatchingLabels(nfs.PodSelector(server))))
	require.Len(t, pods.Items, 1)
	assert.NotEmpty(t, pods.Items[0].Spec.NodeName, "on a kwok node")
	return &pods.Items[0]
}

// nfsLeftovers names what is left of a deleted NFSServer: its objects, its claim, its volume.
func nfsLeftovers(ctx context.Context, server *storageosv1.NFSServer, volume string) error {
	key := client.ObjectKeyFromObject(server)
	var left []string
	for _, obj := range []client.Object{&storageosv1.NFSServer{}, &appsv1.StatefulSet{}, &corev1.Service{}, &corev1.ConfigMap{},
		&corev1.PersistentVolumeClaim{}} {
		if err := env.Client.Get(ctx, key, obj); err == nil {
			left = append(left, fmt.Sprintf("%T", obj))
		} else if client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	for name, obj := range map[string]client.Object{
		server.Name + "-metrics":       &corev1.Service{},
		nfs.ServiceAccountName(server): &corev1.ServiceAccount{},
		server.Name + "-0":             &corev1.Pod{},
	} {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: key.Namespace, Name: name}, obj); err == nil {
			left = append(left, fmt.Sprintf("%T %s", obj, name))
		} else if client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	if volume != "" {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: volume}, &corev1.PersistentVolume{}); err == nil {
			left = append(left, "PersistentVolume "+volume)
		} else if client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left: %s", strings.Join(left, ", "))
	}
	return nil
}
