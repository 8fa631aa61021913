package soak

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/job"
	"github.com/storageos/cluster-operator/pkg/nfs"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// setUp makes the soak's namespace, learns the nodes and node pods, and sets API credentials of its own, so
// that the password is a value no log could contain by chance.
func (s *soak) setUp(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appsNamespace}}
	if err := s.d.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	var nodes corev1.NodeList
	if err := s.d.Client.List(ctx, &nodes); err != nil {
		return err
	}
	for _, n := range nodes.Items {
		s.nodes = append(s.nodes, n.Name)
	}
	sort.Strings(s.nodes)
	c := &storageosv1.StorageOSCluster{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}, c); err != nil {
		return err
	}
	s.clusterNamespace = string(c.Spec.Namespace)
	pods, err := s.nodePodUIDs(ctx)
	if err != nil {
		return err
	}
	s.nodePods = pods
	secret := &corev1.Secret{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.Namespace, Name: webhookCertSecret}, secret); err == nil {
		s.rememberKeys(secret)
	}
	return s.rotateSecret(ctx)
}

// cleanUp deletes the soak's namespace, and with it everything the soak made there, and waits until it is gone
// (the operator releases its NFSServers and Jobs).
func (s *soak) cleanUp(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appsNamespace}}
	if err := s.d.Client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
		return err
	}
	for deadline := time.Now().Add(leakBound); time.Now().Before(deadline); {
		if err := s.d.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns); apierrors.IsNotFound(err) {
			return nil
		}
		if err := sleep(ctx, watchEvery); err != nil {
			return err
		}
	}
	return fmt.Errorf("namespace %s still there %s after its delete", appsNamespace, leakBound)
}

// The sample cluster's API Secret (config/samples).
const apiSecretName, apiSecretNamespace = "storageos-api", "default"

// rotateSecret changes the StorageOS API password: in the Secret the cluster names, then in StorageOS, as an
// administrator rotating credentials would.
func (s *soak) rotateSecret(ctx context.Context) error {
	s.mu.Lock()
	s.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%d/%d", s.o.Seed, s.seq))
	password := "soak-password-" + hex.EncodeToString(sum[:12])
	s.secrets[password] = "the API password"
	s.mu.Unlock()
	secret := &corev1.Secret{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: apiSecretNamespace, Name: apiSecretName}, secret); err != nil {
		return err
	}
	base := secret.DeepCopy()
	secret.Data["apiPassword"] = []byte(password)
	if err := s.d.Client.Patch(ctx, secret, client.MergeFrom(base)); err != nil {
		return err
	}
	username := string(secret.Data["apiUsername"])
	s.d.Simulator.SetCredentials(storageos.Credentials{Username: username, Password: password})
	return nil
}

// rememberKeys adds the private keys of the webhook's certificate Secret to the values nothing may show: each
// full line of their PEM bodies, as a log or event escapes a multi-line key's newlines and would hide it whole.
func (s *soak) rememberKeys(secret *corev1.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{"ca.key", "tls.key"} {
		for _, line := range strings.Split(string(secret.Data[k]), "\n") {
			if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				s.secrets[line] = "a line of the webhook's " + k
			}
		}
	}
}

// clusterEdits are the spec edits the soak makes, each as a merge patch of the StorageOSCluster for an on and
// an off value. Every one changes a child object the convergence check looks at.
var clusterEdits = [][2]string{
	{`{"spec":{"debug":true}}`, `{"spec":{"debug":false}}`},
	{`{"spec":{"disableTelemetry":true}}`, `{"spec":{"disableTelemetry":false}}`},
	{`{"spec":{"disableFencing":true}}`, `{"spec":{"disableFencing":false}}`},
	{`{"spec":{"disableScheduler":true}}`, `{"spec":{"disableScheduler":false}}`},
	// CSI on with its provisioner credentials, and off again (the credentials need CSI: the schema says so).
	{`{"spec":{"csi":{"enable":true,"enableProvisionCreds":true}}}`, `{"spec":{"csi":{"enable":false,"enableProvisionCreds":false}}}`},
	{`{"spec":{"ingress":{"enable":true}}}`, `{"spec":{"ingress":{"enable":false}}}`},
	{`{"spec":{"tolerations":[{"key":"soak","operator":"Exists"}]}}`, `{"spec":{"tolerations":null}}`},
	{`{"spec":{"resources":{"requests":{"memory":"256Mi"}}}}`, `{"spec":{"resources":null}}`},
}

func (s *soak) editCluster(ctx context.Context, st step) error {
	edit := clusterEdits[st.pick%len(clusterEdits)][st.n%2]
	s.logf("  %s", edit)
	c := &storageosv1.StorageOSCluster{ObjectMeta: metav1.ObjectMeta{Namespace: demo.SampleNamespace, Name: demo.SampleCluster}}
	return s.d.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(edit)))
}

func (s *soak) name(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s-%d", prefix, s.seq)
}

// createJob runs a cleanup Job on every node, and deletes the Jobs that completed, as their user would.
func (s *soak) createJob(ctx context.Context) error {
	var errs []error
	for _, name := range s.jobNames(true) {
		j := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}}
		if err := s.d.Client.Delete(ctx, j); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		delete(s.jobs, name)
		s.mu.Unlock()
		s.followDeletion("Job "+name, func(ctx context.Context) (bool, error) {
			return s.gone(ctx, &appsv1.DaemonSetList{}, client.MatchingLabels{job.LabelJob: name}, &corev1.PodList{})
		})
	}
	name := s.name("soak-job")
	j := &storageosv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name},
		Spec: storageosv1.JobSpec{Image: "darkowlzz/cleanup:v0.0.2", Args: []string{"/var/lib/storageos"},
			HostPath: "/var/lib", MountPath: "/var/lib", CompletionWord: "done"}}
	if err := s.d.Client.Create(ctx, j); err != nil {
		return errors.Join(append(errs, err)...)
	}
	s.mu.Lock()
	s.jobs[name] = true
	s.mu.Unlock()
	return errors.Join(errs...)
}

// jobNames are the driver's Jobs, sorted; only the completed ones with completed.
func (s *soak) jobNames(completed bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.jobs {
		if !completed || s.completedJobs[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// startUpgrade starts the previewed upgrade, or creates one (previewed or not) when none is under way.
func (s *soak) startUpgrade(ctx context.Context, st step) error {
	s.mu.Lock()
	name := s.upgrade
	s.mu.Unlock()
	if name != "" {
		u := &storageosv1.StorageOSUpgrade{}
		if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.SampleNamespace, Name: name}, u); err != nil {
			return err
		}
		if !u.Spec.Preview {
			return fmt.Errorf("%s is under way", name)
		}
		s.logf("  starting the previewed %s", name)
		if err := s.d.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"preview":false}}`))); err != nil {
			return err
		}
		s.mu.Lock()
		s.preview = false
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	s.upgrades++
	k := s.upgrades
	s.mu.Unlock()
	u := &storageosv1.StorageOSUpgrade{ObjectMeta: metav1.ObjectMeta{Namespace: demo.SampleNamespace, Name: fmt.Sprintf("soak-upgrade-%d", k)},
		Spec: storageosv1.StorageOSUpgradeSpec{NewImage: storageosv1.ImageReference(fmt.Sprintf("storageos/node:soak-%d", k)),
			Preview: st.n%2 == 0, AcceptUnstoppablePods: true}}
	if err := s.d.Client.Create(ctx, u); err != nil {
		return err
	}
	s.logf("  %s to %s (preview: %v)", u.Name, u.Spec.NewImage, u.Spec.Preview)
	s.mu.Lock()
	s.upgrade, s.preview = u.Name, u.Spec.Preview
	s.mu.Unlock()
	return nil
}

func (s *soak) createNFS(ctx context.Context) error {
	name := s.name("soak-nfs")
	n := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name},
		Spec: storageosv1.NFSServerSpec{Resources: storageosv1.NFSServerResources{
			Requests: map[corev1.ResourceName]storageosv1.Quantity{corev1.ResourceStorage: {Quantity: resource.MustParse("1Gi")}}}}}
	if err := s.d.Client.Create(ctx, n); err != nil {
		return err
	}
	s.mu.Lock()
	s.nfs[name] = true
	s.mu.Unlock()
	return nil
}

// nfsNames are the driver's NFSServers, sorted.
func (s *soak) nfsNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.nfs))
}

func (s *soak) editNFS(ctx context.Context, st step) error {
	names := s.nfsNames()
	if len(names) == 0 {
		return errors.New("no NFSServer to edit")
	}
	patch := []string{`{"spec":{"tolerations":[{"key":"soak","operator":"Exists"}]}}`, `{"spec":{"tolerations":null}}`}[st.n%2]
	n := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: names[st.pick%len(names)]}}
	return s.d.Client.Patch(ctx, n, client.RawPatch(types.MergePatchType, []byte(patch)))
}

func (s *soak) deleteNFS(ctx context.Context, st step) error {
	names := s.nfsNames()
	if len(names) == 0 {
		return errors.New("no NFSServer to delete")
	}
	name := names[st.pick%len(names)]
	if err := s.d.Client.Delete(ctx, &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}}); client.IgnoreNotFound(err) != nil {
		return err
	}
	s.mu.Lock()
	delete(s.nfs, name)
	s.mu.Unlock()
	s.followDeletion("NFSServer "+name, func(ctx context.Context) (bool, error) {
		return s.gone(ctx, &appsv1.StatefulSetList{}, client.MatchingLabels{nfs.LabelServer: name},
			&corev1.ServiceList{}, &corev1.ConfigMapList{}, &corev1.PersistentVolumeClaimList{}, &corev1.PodList{})
	})
	return nil
}

// appNames are the driver's applications, sorted.
func (s *soak) appNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.apps))
}

// createApp makes an application: on a StorageOS volume two times in three, else on none.
func (s *soak) createApp(ctx context.Context, st step) error {
	name := s.name("soak-app")
	replicas := int32(between(st.n, 1, 2))
	a := &app{replicas: replicas, storageOS: st.pick%3 != 0}
	var d *appsv1.Deployment
	if a.storageOS {
		pvc, dep := demo.StorageOSApp(appsNamespace, name, replicas)
		if err := s.d.Client.Create(ctx, pvc); err != nil {
			return err
		}
		d = dep
	} else {
		d = demo.Deployment(appsNamespace, name, replicas, nil)
	}
	if err := s.d.Client.Create(ctx, d); err != nil {
		return err
	}
	s.mu.Lock()
	s.apps[name] = a
	s.mu.Unlock()
	return nil
}

// scaleApp scales an application, unless an upgrade is under way: an upgrade restores the replicas it found,
// and a user who scales an application the upgrade stopped is told so by the upgrade's status, not helped.
func (s *soak) scaleApp(ctx context.Context, st step) error {
	names := s.appNames()
	s.mu.Lock()
	upgrading := s.upgrade != ""
	s.mu.Unlock()
	if len(names) == 0 || upgrading {
		return errors.New("no application to scale, or an upgrade under way")
	}
	name := names[st.pick%len(names)]
	replicas := int32(between(st.n, 0, 3))
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}}
	if err := s.d.Client.Patch(ctx, d, client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))); err != nil {
		return err
	}
	s.mu.Lock()
	s.apps[name].replicas = replicas
	s.mu.Unlock()
	return nil
}

func (s *soak) deleteApp(ctx context.Context, st step) error {
	names := s.appNames()
	if len(names) == 0 {
		return errors.New("no application to delete")
	}
	name := names[st.pick%len(names)]
	key := client.ObjectKey{Namespace: appsNamespace, Name: name}
	if err := s.d.Client.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}},
		client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return err
	}
	if err := s.d.Client.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); client.IgnoreNotFound(err) != nil {
		return err
	}
	s.mu.Lock()
	delete(s.apps, name)
	s.mu.Unlock()
	s.followDeletion("application "+name, func(ctx context.Context) (bool, error) {
		return s.gone(ctx, &corev1.PodList{}, client.MatchingLabels{"app": name})
	})
	return nil
}

// createPod makes a bare pod, on a StorageOS volume of its own or on none, and deletes the oldest when there
// are more than three.
func (s *soak) createPod(ctx context.Context, st step) error {
	name := s.name("soak-pod")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name, Labels: map[string]string{"soak-pod": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
			TerminationGracePeriodSeconds: ptr.To[int64](0)}}
	if st.n%2 == 0 {
		pvc, _ := demo.StorageOSApp(appsNamespace, name, 1)
		if err := s.d.Client.Create(ctx, pvc); err != nil {
			return err
		}
		pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}
	}
	if err := s.d.Client.Create(ctx, pod); err != nil {
		if strings.Contains(err.Error(), "admission webhook") {
			s.r.check(WebhookNeverDeny, fmt.Sprintf("pod %s refused: %v", name, err))
		}
		return err
	}
	s.mu.Lock()
	s.pods = append(s.pods, name)
	var old []string
	if len(s.pods) > 3 {
		old, s.pods = slices.Clone(s.pods[:len(s.pods)-3]), slices.Clone(s.pods[len(s.pods)-3:])
	}
	s.mu.Unlock()
	for _, name := range old {
		for _, obj := range []client.Object{&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}}} {
			if err := s.d.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

// followDeletion checks, until leakBound, that what a deletion should remove goes.
func (s *soak) followDeletion(what string, gone func(context.Context) (bool, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaks = append(s.leaks, leakCheck{what: what, deadline: time.Now().Add(leakBound), gone: gone})
}

// gone reports whether no object of the lists (in the soak's namespace) matches the labels.
func (s *soak) gone(ctx context.Context, first client.ObjectList, labels client.MatchingLabels, more ...client.ObjectList) (bool, error) {
	for _, list := range append([]client.ObjectList{first}, more...) {
		if err := s.d.Client.List(ctx, list, client.InNamespace(appsNamespace), labels); err != nil {
			return false, err
		}
		if meta.LenList(list) > 0 {
			return false, nil
		}
	}
	return true, nil
}
