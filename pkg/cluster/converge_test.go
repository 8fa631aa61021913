//go:build !mutation

package cluster_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/names"
)

func nodeContainer(ds *appsv1.DaemonSet) corev1.Container { return ds.Spec.Template.Spec.Containers[0] }

func TestEditsReachTheChildren(t *testing.T) {
	c := createCluster(t, nil)
	cm := inNS(c, names.NodeConfigMap, &corev1.ConfigMap{})
	eventuallyGet(t, cm, func() bool { return cm.Data["LOG_LEVEL"] == "info" })

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) {
		s.Debug = true
		s.Images.NodeContainer = "storageos/node:v2.2.0"
		s.Tolerations = []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists}}
	})
	eventuallyGet(t, cm, func() bool { return cm.Data["LOG_LEVEL"] == "debug" }, "debug reaches the node config")
	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, func() bool { return nodeContainer(ds).Image == "storageos/node:v2.2.0" }, "images.nodeContainer reaches the DaemonSet")
	assert.Contains(t, ds.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: "storage", Operator: corev1.TolerationOpExists})
	assert.Equal(t, appsv1.OnDeleteDaemonSetStrategyType, ds.Spec.UpdateStrategy.Type, "storage pods restart only on purpose")

	// A field removed from the spec is removed from the child.
	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Tolerations = nil })
	eventuallyGet(t, ds, func() bool {
		for _, tol := range ds.Spec.Template.Spec.Tolerations {
			if tol.Key == "storage" {
				return false
			}
		}
		return true
	}, "a removed toleration leaves the DaemonSet")
}

func TestDeletedAndEditedChildrenAreRestored(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, nil)

	cm := inNS(c, names.NodeConfigMap, &corev1.ConfigMap{})
	eventuallyGet(t, cm, nil)
	uid := cm.UID
	require.NoError(t, testEnv.Client.Delete(ctx, cm))
	eventuallyGet(t, cm, func() bool { return cm.UID != uid }, "a deleted child is recreated")

	ds := inNS(c, names.DaemonSet, &appsv1.DaemonSet{})
	eventuallyGet(t, ds, nil)
	ds.Spec.Template.Spec.Containers[0].Image = "attacker/node:latest"
	ds.Spec.Template.Spec.HostNetwork = false
	require.NoError(t, testEnv.Client.Update(ctx, ds))
	eventuallyGet(t, ds, func() bool {
		return nodeContainer(ds).Image == "storageos/node:v2.1.0" && ds.Spec.Template.Spec.HostNetwork
	}, "a hand edit of a managed field is reverted")
}

func TestCSIDeploymentStrategySwitchRemovesTheOtherKind(t *testing.T) {
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) { s.CSI.Enable = true })
	sts := inNS(c, desired.CSIStatefulSetName, &appsv1.StatefulSet{})
	eventuallyGet(t, sts, nil)

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) {
		s.CSI.DeploymentStrategy = storageosv1.CSIDeploymentStrategyDeployment
	})
	deploy := inNS(c, desired.CSIDeploymentName, &appsv1.Deployment{})
	eventuallyGet(t, deploy, nil, "deploymentStrategy: deployment creates the Deployment")
	assert.Equal(t, desired.CSIDeploymentSA, deploy.Spec.Template.Spec.ServiceAccountName)
	eventuallyGone(t, sts, "and removes the StatefulSet")
	eventuallyGone(t, inNS(c, desired.CSIStatefulSetSA, &corev1.ServiceAccount{}), "and its ServiceAccount")

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.CSI.Enable = false })
	eventuallyGone(t, deploy, "csi.enable: false removes the CSI helper")
	cm := inNS(c, names.NodeConfigMap, &corev1.ConfigMap{})
	eventuallyGet(t, cm, func() bool { _, ok := cm.Data["CSI_ENDPOINT"]; return !ok })
}

func TestIngressWithTLS(t *testing.T) {
	c := createCluster(t, func(s *storageosv1.StorageOSClusterSpec) {
		s.Ingress = storageosv1.StorageOSClusterIngress{Enable: true, TLS: true, Hostname: "storageos.example.com",
			Annotations: map[string]string{"kubernetes.io/ingress.class": "nginx"}}
	})
	ing := inNS(c, desired.IngressName, &networkingv1.Ingress{})
	eventuallyGet(t, ing, nil)
	assert.Equal(t, "nginx", ing.Annotations["kubernetes.io/ingress.class"])
	require.Len(t, ing.Spec.TLS, 1)
	assert.Equal(t, networkingv1.IngressTLS{Hosts: []string{"storageos.example.com"}, SecretName: desired.IngressTLSSecretName}, ing.Spec.TLS[0])
	tls := inNS(c, desired.IngressTLSSecretName, &corev1.Secret{})
	eventuallyGet(t, tls, nil)
	assert.Equal(t, corev1.SecretTypeTLS, tls.Type)
	assert.Equal(t, "CERTIFICATE", string(tls.Data["tls.crt"]))

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Ingress.TLS, s.Ingress.Enable = false, false })
	eventuallyGone(t, ing, "ingress.enable: false removes the Ingress")
	eventuallyGone(t, tls, "and its TLS secret")
}

func TestPauseFreezesChildrenButNotStatus(t *testing.T) {
	ctx := context.Background()
	c := createCluster(t, nil)
	cm := inNS(c, names.NodeConfigMap, &corev1.ConfigMap{})
	eventuallyGet(t, cm, nil)

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Pause = true })
	eventuallyCondition(t, c, cluster.ConditionProgressing, metav1.ConditionFalse, cluster.ReasonPaused)
	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Debug = true })
	require.NoError(t, testEnv.Client.Delete(ctx, cm))

	// Status still works while paused: node pods coming up are reported.
	nodesUp(t, c, "node-p")
	fresh := &storageosv1.StorageOSCluster{}
	require.Eventually(t, func() bool {
		return testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), fresh) == nil && fresh.Status.Ready == "1/1" &&
			fresh.Status.ObservedGeneration == fresh.Generation
	}, timeout, tick)
	assert.True(t, apierrorsIsNotFound(testEnv.Client.Get(ctx, client.ObjectKeyFromObject(cm), cm)), "nothing is recreated while paused")

	update(t, c, func(s *storageosv1.StorageOSClusterSpec) { s.Pause = false })
	eventuallyGet(t, cm, func() bool { return cm.Data["LOG_LEVEL"] == "debug" }, "unpausing applies what changed meanwhile")
}
