package scale

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/internal/demo"
	"github.com/storageos/cluster-operator/pkg/names"
)

// The floors: what Kubernetes itself needs for the same work, on the same nodes, in the same run.

// daemonSetFloor is the time a plain DaemonSet of the StorageOS node pod template (in the same namespace, with the
// same service account, tolerations and affinity, without host ports) takes from creation to every pod ready,
// without the operator.
// It is deleted again, and its pods waited for, so that it does not weigh on what follows.
func daemonSetFloor(ctx context.Context, d *demo.Demo, r *Report, namespace string, nodes int) (time.Duration, error) {
	var node appsv1.DaemonSet
	if err := d.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: names.DaemonSet}, &node); err != nil {
		return 0, err
	}
	labels := map[string]string{"app": "scale-floor"}
	template := *node.Spec.Template.DeepCopy()
	template.Labels = labels
	// The node pods use the host's network, so their ports are host ports, which the running StorageOS pods
	// hold: the floor's pods declare none.
	for i := range template.Spec.Containers {
		template.Spec.Containers[i].Ports = nil
	}
	for i := range template.Spec.InitContainers {
		template.Spec.InitContainers[i].Ports = nil
	}
	floor := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "scale-floor", Namespace: namespace},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template}}
	start := time.Now()
	if err := d.Client.Create(ctx, floor); err != nil {
		return 0, err
	}
	err := r.wait(ctx, 30*time.Minute, "the plain DaemonSet ready on every node", func() error {
		if err := d.Client.Get(ctx, client.ObjectKeyFromObject(floor), floor); err != nil {
			return err
		}
		if s := floor.Status; s.DesiredNumberScheduled != int32(nodes) || s.NumberReady != int32(nodes) {
			return fmt.Errorf("%d of %d ready", s.NumberReady, s.DesiredNumberScheduled)
		}
		return nil
	})
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if err := d.Client.Delete(ctx, floor, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		return 0, err
	}
	return took, podsGone(ctx, d, r, "the plain DaemonSet's", client.InNamespace(namespace), client.MatchingLabels(labels))
}

// writesFloor is the time the API server takes for n writes of the kind an upgrade makes (merge patches of
// workloads and creations of small objects), one after another from one client, as a manager's reconcile
// makes them: here annotation patches of the applications (which change nothing they run) and ConfigMaps
// created in a namespace of their own.
func writesFloor(ctx context.Context, d *demo.Demo, r *Report, apps []string, patchesPerApp, creates int) (time.Duration, error) {
	const namespace = "scale-floor"
	if err := d.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		return 0, err
	}
	start := time.Now()
	for round := range patchesPerApp {
		for _, name := range apps {
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"scale-floor":"%d"}}}`, round)
			obj := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: appsNamespace, Name: name}}
			if err := d.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return 0, err
			}
		}
	}
	for i := range creates {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("floor-%05d", i)}}
		if err := d.Client.Create(ctx, cm); err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := d.Client.Delete(ctx, ns); err != nil {
		return 0, err
	}
	// Gone before the upgrade is measured: the namespace's deletion is work of the API server's too.
	return took, r.wait(ctx, 10*time.Minute, "the floor's namespace deleted", func() error {
		switch err := d.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns); {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("namespace %s is %s", namespace, ns.Status.Phase)
	})
}
