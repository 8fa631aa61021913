package cluster

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/kube"
	"github.com/storageos/cluster-operator/pkg/names"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// observation is what one reconcile read of the deployment: the input of the status computation (status.go).
type observation struct {
	// daemonSet is the node DaemonSet; empty when it does not exist (yet).
	daemonSet appsv1.DaemonSet
	// pods are the node pods of this cluster.
	pods []corev1.Pod
	// csi and scheduler are nil when disabled in the spec.
	csi, scheduler *workloadObservation
	api            apiObservation
	// podSecurity is the Pod Security level spec.namespace enforces when it is not privileged, so forbids the
	// node pods; empty when it allows them or sets no level (the cluster's default then applies, which the API
	// does not show).
	podSecurity string
}

// workloadObservation is a Deployment's or StatefulSet's readiness.
type workloadObservation struct {
	name        string
	found       bool
	ready, want int32
}

// apiObservation is what the StorageOS API said. It is asked only once a node pod is ready.
type apiObservation struct {
	asked bool
	nodes []storageos.Node
	err   error
}

// running reports whether every node pod the DaemonSet wants is ready.
func (o *observation) running() bool {
	want := o.daemonSet.Status.DesiredNumberScheduled
	return want > 0 && o.daemonSet.Status.NumberReady == want
}

// apiTimeout bounds the StorageOS API calls of one reconcile, so an unresponsive API cannot hold the single
// worker for long.
const apiTimeout = 15 * time.Second

// observe reads the state of the deployment: the node DaemonSet and its pods, the CSI helper and the scheduler
// workloads, and node health from the StorageOS API once a node pod is ready. API failures are recorded, not
// returned: they are reported in APIReady and never lead to deleting or rolling anything.
func (r *Reconciler) observe(ctx context.Context, s *scope) error {
	c := s.cluster
	ns := string(c.Spec.Namespace)
	o := &observation{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: names.DaemonSet}, &o.daemonSet); client.IgnoreNotFound(err) != nil {
		return err
	}
	// A namespace that existed before the cluster keeps its labels (desired.Namespace), and one that enforces
	// baseline or restricted makes the DaemonSet's pod creations fail, which only the DaemonSet's events say.
	// Namespaces are cached whole, so this is no extra request.
	namespace := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, namespace); client.IgnoreNotFound(err) != nil {
		return err
	}
	if level, set := namespace.Labels[desired.PodSecurityEnforceLabel]; set && level != desired.PodSecurityPrivileged {
		o.podSecurity = level
	}
	// Only read: not copied out of the cache, which would be a copy of every node pod per reconcile.
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(ns), client.UnsafeDisableDeepCopy,
		client.MatchingLabels(names.NodePodLabels()), client.MatchingLabels{names.LabelInstance: c.Name}); err != nil {
		return err
	}
	o.pods = pods.Items
	var err error
	if c.Spec.CSI.Enable {
		if o.csi, err = r.observeWorkload(ctx, csiWorkload(c)); err != nil {
			return err
		}
	}
	if !c.Spec.DisableScheduler {
		scheduler := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: names.Scheduler}}
		if o.scheduler, err = r.observeWorkload(ctx, scheduler); err != nil {
			return err
		}
	}
	if o.daemonSet.Status.NumberReady > 0 {
		ctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		o.api.asked = true
		o.api.nodes, o.api.err = r.api(s).ListNodes(ctx)
	}
	s.observed = o
	return nil
}

func csiWorkload(c *storageosv1.StorageOSCluster) client.Object {
	ns := string(c.Spec.Namespace)
	if c.Spec.CSI.DeploymentStrategy == storageosv1.CSIDeploymentStrategyDeployment {
		return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: desired.CSIDeploymentName}}
	}
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: desired.CSIStatefulSetName}}
}

// observeWorkload reads a Deployment's or StatefulSet's readiness.
func (r *Reconciler) observeWorkload(ctx context.Context, obj client.Object) (*workloadObservation, error) {
	out := &workloadObservation{name: obj.GetName()}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.found = true
	switch w := obj.(type) {
	case *appsv1.Deployment:
		out.ready, out.want = w.Status.ReadyReplicas, kube.Replicas(w.Spec.Replicas)
	case *appsv1.StatefulSet:
		out.ready, out.want = w.Status.ReadyReplicas, kube.Replicas(w.Spec.Replicas)
	}
	return out, nil
}

// api is the cluster's StorageOS API, logged in with the credentials of its API secret.
func (r *Reconciler) api(s *scope) storageos.API {
	return r.apis.Connect(s.cluster, storageos.CredentialsFromSecret(s.input.APISecret))
}
