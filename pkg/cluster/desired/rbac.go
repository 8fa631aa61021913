package desired

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Names of the ClusterRoles the StorageOS components run with (ComponentClusterRoles).
const (
	KeyManagementRole           = "storageos:key-management"
	InitRole                    = "storageos:init"
	PodFencerRole               = "storageos:pod-fencer"
	DriverRegistrarRole         = "storageos:driver-registrar"
	CSIProvisionerRole          = "storageos:csi-provisioner"
	CSIAttacherRole             = "storageos:csi-attacher"
	CSIResizerRole              = "storageos:csi-resizer"
	SchedulerExtenderRole       = "storageos:scheduler-extender"
	SchedulerLeaderElectionRole = "storageos:scheduler-leader-election"
)

// BuiltinSchedulerRoles are Kubernetes' own roles the scheduler extender's kube-scheduler runs with.
var BuiltinSchedulerRoles = []string{"system:kube-scheduler", "system:volume-scheduler"}

// ComponentClusterRoles are the roles the StorageOS components run with. Their rules do not depend on any
// cluster's spec, so they ship with the operator's install (config/rbac/cluster-manager/component_roles.yaml is
// generated from this function) instead of being written by the cluster-manager: it then needs neither write
// access to ClusterRoles nor `escalate`, only `bind` on exactly these names (BindableClusterRoles).
func ComponentClusterRoles() []*rbacv1.ClusterRole {
	role := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Rules:      rules,
		}
	}
	return []*rbacv1.ClusterRole{
		// The node stores keys in secrets and its init container reads the DaemonSet.
		role(KeyManagementRole, rule([]string{""}, []string{"secrets"}, allVerbs)),
		role(InitRole, rule([]string{"apps"}, []string{"daemonsets"}, []string{"get"})),
		// StorageOS serves a ReadWriteMany claim through an NFSServer it creates (pvc-<uid>); the
		// cluster-manager's NFS controller runs it.
		role(NFSProvisionerRole, rule([]string{storageosv1.GroupVersion.Group}, []string{"nfsservers"}, allVerbs)),
		role(PodFencerRole,
			rule([]string{""}, []string{"persistentvolumeclaims", "nodes"}, readVerbs),
			rule([]string{""}, []string{"pods"}, []string{"get", "list", "watch", "update", "patch", "delete"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments"}, []string{"get", "list", "watch", "delete"}),
			rule([]string{""}, []string{"events"}, eventVerbs)),
		role(DriverRegistrarRole,
			rule([]string{""}, []string{"nodes"}, []string{"get", "update"}),
			rule([]string{""}, []string{"events"}, eventVerbs)),
		role(CSIProvisionerRole,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "create", "delete"}),
			rule([]string{""}, []string{"persistentvolumeclaims"}, []string{"get", "list", "watch", "update"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses", "csinodes"}, readVerbs),
			rule([]string{""}, []string{"secrets"}, []string{"get"}),
			rule([]string{""}, []string{"nodes"}, readVerbs),
			rule([]string{""}, []string{"events"}, eventVerbs)),
		role(CSIAttacherRole,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{""}, []string{"nodes"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses", "csinodes"}, readVerbs),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{"storage.k8s.io"}, []string{"volumeattachments/status"}, []string{"get", "update", "patch"}),
			rule([]string{""}, []string{"events"}, eventVerbs)),
		role(CSIResizerRole,
			rule([]string{""}, []string{"persistentvolumes"}, []string{"get", "list", "watch", "update", "patch"}),
			rule([]string{""}, []string{"persistentvolumeclaims"}, readVerbs),
			rule([]string{""}, []string{"persistentvolumeclaims/status"}, []string{"update", "patch"}),
			rule([]string{""}, []string{"pods"}, readVerbs),
			rule([]string{""}, []string{"events"}, eventVerbs)),
		// The node answers the scheduler extender's questions from PVs, PVCs and storage classes.
		role(SchedulerExtenderRole,
			rule([]string{""}, []string{"persistentvolumes", "persistentvolumeclaims"}, []string{"get"}),
			rule([]string{"storage.k8s.io"}, []string{"storageclasses"}, []string{"get"})),
		// Bound in the cluster's namespace only (a RoleBinding): the scheduler's own Lease.
		role(SchedulerLeaderElectionRole,
			rule([]string{"coordination.k8s.io"}, []string{"leases"}, []string{"create"}),
			rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
				ResourceNames: []string{names.Scheduler}, Verbs: []string{"get", "update"}}),
		// The node and CSI pods are privileged; OpenShift admits them only with the privileged SCC.
		role(OpenShiftSCCRole, rbacv1.PolicyRule{
			APIGroups: []string{"security.openshift.io"}, Resources: []string{"securitycontextconstraints"},
			ResourceNames: []string{"privileged"}, Verbs: []string{"use"},
		}),
	}
}

// rbacObjects: the ServiceAccounts and the bindings of the component roles the StorageOS components run with.
func rbacObjects(in Input) []client.Object {
	ns := namespace(in)
	spec := in.Cluster.Spec
	objs := []client.Object{serviceAccount(in, DaemonSetSA)}
	node := []rbacv1.Subject{saSubject(ns, DaemonSetSA)}

	objs = append(objs,
		clusterRoleBinding(in, KeyManagementRole, KeyManagementRole, node),
		clusterRoleBinding(in, InitRole, InitRole, node),
		clusterRoleBinding(in, NFSProvisionerRole, NFSProvisionerRole, node))
	if !spec.DisableFencing {
		objs = append(objs, clusterRoleBinding(in, PodFencerRole, PodFencerRole, node))
	}

	sccSubjects := node
	if spec.CSI.Enable {
		helperSA := csiHelperSA(in.Cluster)
		helper := []rbacv1.Subject{saSubject(ns, helperSA)}
		objs = append(objs, serviceAccount(in, helperSA),
			clusterRoleBinding(in, DriverRegistrarRole, DriverRegistrarRole, node),
			clusterRoleBinding(in, CSIProvisionerRole, CSIProvisionerRole, helper),
			clusterRoleBinding(in, CSIAttacherRole, CSIAttacherRole, helper),
			clusterRoleBinding(in, CSIResizerRole, CSIResizerRole, helper))
		sccSubjects = append(sccSubjects, helper...)
	}

	if !spec.DisableScheduler {
		objs = append(objs, serviceAccount(in, SchedulerSA), clusterRoleBinding(in, SchedulerExtenderRole, SchedulerExtenderRole, node))
		objs = append(objs, schedulerRBAC(in)...)
	}

	if IsOpenShift(in.Cluster) {
		objs = append(objs, clusterRoleBinding(in, OpenShiftSCCRole, OpenShiftSCCRole, sccSubjects))
	}
	return objs
}

// schedulerRBAC lets the scheduler extender's kube-scheduler schedule with the built-in scheduler roles and hold
// its own Lease, storageos-scheduler, in the cluster's namespace.
func schedulerRBAC(in Input) []client.Object {
	subjects := []rbacv1.Subject{saSubject(namespace(in), SchedulerSA)}
	var objs []client.Object
	for _, builtin := range BuiltinSchedulerRoles {
		objs = append(objs, clusterRoleBinding(in, "storageos:"+strings.TrimPrefix(builtin, "system:"), builtin, subjects))
	}
	return append(objs, &rbacv1.RoleBinding{
		ObjectMeta: meta(in, OperandRBAC, SchedulerLeaderElectionRole),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: SchedulerLeaderElectionRole},
		Subjects:   subjects,
	})
}

func serviceAccount(in Input, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: meta(in, OperandRBAC, name)}
}

func saSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
}

func clusterRoleBinding(in Input, name, role string, subjects []rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: clusterMeta(in, OperandRBAC, name),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
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
