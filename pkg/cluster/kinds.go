package cluster

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// managedKind is a kind the cluster-manager creates: its object (for watches and the cache) and its list (to
// prune what an operand no longer wants, and everything on delete).
type managedKind struct {
	object func() client.Object
	list   func() client.ObjectList
}

// managedKinds are every kind a StorageOSCluster deploys, the namespace excepted (see desired.Namespace).
var managedKinds = []managedKind{
	{func() client.Object { return &corev1.ServiceAccount{} }, func() client.ObjectList { return &corev1.ServiceAccountList{} }},
	{func() client.Object { return &rbacv1.RoleBinding{} }, func() client.ObjectList { return &rbacv1.RoleBindingList{} }},
	{func() client.Object { return &rbacv1.ClusterRoleBinding{} }, func() client.ObjectList { return &rbacv1.ClusterRoleBindingList{} }},
	{func() client.Object { return &corev1.Secret{} }, func() client.ObjectList { return &corev1.SecretList{} }},
	{func() client.Object { return &corev1.ConfigMap{} }, func() client.ObjectList { return &corev1.ConfigMapList{} }},
	{func() client.Object { return &appsv1.DaemonSet{} }, func() client.ObjectList { return &appsv1.DaemonSetList{} }},
	{func() client.Object { return &appsv1.StatefulSet{} }, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
	{func() client.Object { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }},
	{func() client.Object { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }},
	{func() client.Object { return &networkingv1.Ingress{} }, func() client.ObjectList { return &networkingv1.IngressList{} }},
	{func() client.Object { return &storagev1.CSIDriver{} }, func() client.ObjectList { return &storagev1.CSIDriverList{} }},
	{func() client.Object { return &storagev1.StorageClass{} }, func() client.ObjectList { return &storagev1.StorageClassList{} }},
}

// managedLists are new empty lists of every managed kind, for the applier's Prune to fill.
func managedLists() []client.ObjectList {
	out := make([]client.ObjectList, len(managedKinds))
	for i, k := range managedKinds {
		out[i] = k.list()
	}
	return out
}

// The cluster-manager's RBAC: exactly the kinds above, plus reading nodes' pods and the API secrets.
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts;secrets;configmaps;services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets;statefulsets;deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=storage.k8s.io,resources=csidrivers;storageclasses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings;rolebindings,verbs=get;list;watch;create;update;patch;delete
// The StorageOS components need permissions the cluster-manager itself does not hold. Their ClusterRoles ship
// with the install (desired.ComponentClusterRoles); the cluster-manager may bind exactly those, and the built-in
// scheduler roles, and write no role: no `escalate`, no ClusterRole or Role it could rewrite.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames="storageos:key-management";"storageos:init";"storageos:pod-fencer";"storageos:driver-registrar";"storageos:csi-provisioner";"storageos:csi-attacher";"storageos:csi-resizer";"storageos:scheduler-extender";"storageos:scheduler-leader-election";"storageos:openshift-scc";"storageos:nfs-provisioner";"system:kube-scheduler";"system:volume-scheduler"
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
