package desired

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

var (
	allVerbs   = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	readVerbs  = []string{"get", "list", "watch"}
	eventVerbs = []string{"list", "watch", "create", "update", "patch"}
)

func rule(groups, resources, verbs []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: groups, Resources: resources, Verbs: verbs}
}

// Pod Security Admission's namespace labels and the level the node pods need: they are privileged, mount host
// paths and use the host network, which the baseline and restricted levels forbid.
const (
	PodSecurityEnforceLabel = "pod-security.kubernetes.io/enforce"
	PodSecurityAuditLabel   = "pod-security.kubernetes.io/audit"
	PodSecurityWarnLabel    = "pod-security.kubernetes.io/warn"
	PodSecurityPrivileged   = "privileged"
)

// Namespace is the namespace the cluster's objects live in. It is created when missing and never taken over
// when it exists (it may be kube-system), so it is not among the objects an operand applies. Not applied, it
// carries the managed-by label itself: delete finds the namespace the cluster created by that label.
// It allows privileged pods explicitly: on a cluster whose Pod Security default is baseline or restricted, a
// namespace without the labels would reject the node pods. Audit and warn say the same, so that the API server
// neither logs nor warns about pods the namespace exists for. A namespace that already exists is not relabelled:
// its labels are its owner's decision, and the cluster reports one that forbids the node pods (Degraded, NodeReady).
func Namespace(in Input) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: clusterMeta(in, OperandRBAC, namespace(in))}
	ns.Labels[names.LabelManagedBy] = names.ClusterManager
	for _, l := range []string{PodSecurityEnforceLabel, PodSecurityAuditLabel, PodSecurityWarnLabel} {
		ns.Labels[l] = PodSecurityPrivileged
	}
	return ns
}

// rbacObjects: the ServiceAccounts and the roles the StorageOS components run with.
func rbacObjects(in Input) []client.Object {
	ns := namespace(in)
	spec := in.Cluster.Spec
	objs := []client.Object{serviceAccount(in, DaemonSetSA)}
	node := []rbacv1.Subject{saSubject(ns, DaemonSetSA)}

	// The node stores keys in secrets and its init container reads the DaemonSet.
	objs = append(objs, clusterRoleAndBinding(in, "storageos:key-management", node,
		rule([]string{""}, []string{"secrets"}, allVerbs))...)
	objs = append(objs, clusterRoleAndBinding(in, "storageos:init", node,
		rule([]string{"apps"}, []string{"daemonsets"}, []string{"get"}))...)

	// StorageOS serves a ReadWriteMany claim through an NFSServer it creates (pvc-<uid>) in the claim's
	// namespace; the cluster-manager's NFS controller runs it.
	objs = append(objs, clusterRoleAndBinding(in, NFSProvisionerRole, node,
		rule([]string{storageosv1.GroupVersion.Group}, []string{"nfsservers"}, []string{"get", "list", "watch", "create", "update", "patch", "delete"}))...)

	if !spec.DisableFencing {
		objs = append(objs, clusterRoleAndBinding(in, "storageos:pod-fencer", node,
			rule([]string{""}, []string{"persistentvolumeclaims", "nodes"}, readVerbs),
			rule([]string{""}, []string{"pods"}, []string{"get", "list", "watch", "update", "patch", "delete"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments"}, []string{"get", "list", "watch", "delete"}),
			rule([]string{""}, []string{"events"}, eventVerbs))...)
	}

	sccSubjects := node
	if spec.CSI.Enable {
		helperSA := csiHelperSA(in.Cluster)
		helper := []rbacv1.Subject{saSubject(ns, helperSA)}
		objs = append(objs, serviceAccount(in, helperSA))
		objs = append(objs, clusterRoleAndBinding(in, "storageos:driver-registrar", node,
			rule([]string{""}, []string{"nodes"}, []string{"get", "update"}),
			rule([]string{""}, []string{"events"}, eventVerbs))...)
		objs = append(objs, clusterRoleAndBinding(in, "storageos:csi-provisioner", helper,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "create", "delete"}),
			rule([]string{""}, []string{"persistentvolumeclaims"}, []string{"get", "list", "watch", "update"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses", "csinodes"}, readVerbs),
			rule([]string{""}, []string{"secrets"}, []string{"get"}),
			rule([]string{""}, []string{"nodes"}, readVerbs),
			rule([]string{""}, []string{"events"}, eventVerbs))...)
		objs = append(objs, clusterRoleAndBinding(in, "storageos:csi-attacher", helper,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{""}, []string{"nodes"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses", "csinodes"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments/status"}, []string{"get", "update", "patch"}),
			rule([]string{""}, []string{"events"}, eventVerbs))...)
		objs = append(objs, clusterRoleAndBinding(in, "storageos:csi-resizer", helper,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{""}, []string{"persistentvolumeclaims"}, readVerbs),
			rule([]string{""}, []string{"persistentvolumeclaims/status"}, []string{"update", "patch"}),
			rule([]string{""}, []string{"pods"}, readVerbs),
			rule([]string{""}, []string{"events"}, eventVerbs))...)
		sccSubjects = append(sccSubjects, helper...)
	}

	if !spec.DisableScheduler {
		objs = append(objs, serviceAccount(in, SchedulerSA))
		// The node answers the scheduler extender's questions from PVs, PVCs and storage classes.
		objs = append(objs, clusterRoleAndBinding(in, "storageos:scheduler-extender", node,
			rule([]string{""}, []string{"persistentvolumes", "persistentvolumeclaims"}, []string{"get"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, []string{"get"}))...)
		objs = append(objs, schedulerRBAC(in)...)
	}

	if IsOpenShift(in.Cluster) {
		// The node and CSI pods are privileged; OpenShift admits them only with the privileged SCC.
		objs = append(objs, clusterRoleAndBinding(in, OpenShiftSCCRole, sccSubjects, rbacv1.PolicyRule{
			APIGroups: []string{"security.openshift.io"}, Resources: []string{"securitycontextconstraints"},
			ResourceNames: []string{"privileged"}, Verbs: []string{"use"},
		})...)
	}
	return objs
}

// schedulerRBAC lets the scheduler extender's kube-scheduler schedule with the built-in scheduler roles and hold
// its own Lease, storageos-scheduler, in the cluster's namespace.
func schedulerRBAC(in Input) []client.Object {
	ns := namespace(in)
	subjects := []rbacv1.Subject{saSubject(ns, SchedulerSA)}
	var objs []client.Object
	for _, builtin := range []string{"system:kube-scheduler", "system:volume-scheduler"} {
		objs = append(objs, &rbacv1.ClusterRoleBinding{
			ObjectMeta: clusterMeta(in, OperandRBAC, "storageos:"+strings.TrimPrefix(builtin, "system:")),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: builtin},
			Subjects:   subjects,
		})
	}
	objs = append(objs,
		&rbacv1.Role{
			ObjectMeta: meta(in, OperandRBAC, "storageos:scheduler-leader-election"),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"create"}),
				{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
					ResourceNames: []string{names.Scheduler}, Verbs: []string{"get", "update"}},
			},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: meta(in, OperandRBAC, "storageos:scheduler-leader-election"),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "storageos:scheduler-leader-election"},
			Subjects:   subjects,
		})
	return objs
}

func serviceAccount(in Input, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: meta(in, OperandRBAC, name)}
}

func saSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
}

func clusterRoleAndBinding(in Input, name string, subjects []rbacv1.Subject, rules ...rbacv1.PolicyRule) []client.Object {
	return []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: clusterMeta(in, OperandRBAC, name), Rules: rules},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: clusterMeta(in, OperandRBAC, name),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   subjects,
		},
	}
}

func csiHelperSA(c *storageosv1.StorageOSCluster) string {
	if c.Spec.CSI.DeploymentStrategy == storageosv1.CSIDeploymentStrategyDeployment {
		return CSIDeploymentSA
	}
	return CSIStatefulSetSA
}

// IsOpenShift is whether the cluster runs on OpenShift, whose SCCs the privileged pods need a binding to.
func IsOpenShift(c *storageosv1.StorageOSCluster) bool {
	return strings.Contains(strings.ToLower(c.Spec.K8sDistro), "openshift")
}
