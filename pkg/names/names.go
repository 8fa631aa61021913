// Package names holds the names, label keys and field owners that more than one binary needs: the objects of
// a StorageOS deployment that the upgrade-manager, the webhook and the tests look up, and who writes what. It
// depends on nothing, so no binary has to import another binary's controller package to find them.
package names

// Field owners: the server-side apply field manager of each binary, also the value of LabelManagedBy on the
// objects it creates (the applier sets that label from its field owner, so the two never disagree).
const (
	ClusterManager   = "storageos-cluster-manager"
	UpgradeManager   = "storageos-upgrade-manager"
	JobManager       = "storageos-job-manager"
	SchedulerWebhook = "storageos-scheduler-webhook"
)

// The original operator (storageos/cluster-operator v2.x): the managed-by label value it put on everything it
// created, and its StorageOSCluster finalizer. A cluster it deployed is taken over in place.
const (
	LegacyOperator         = "storageos-operator"
	LegacyClusterFinalizer = "finalizer.storageoscluster.storageos.com"
)

// Label keys. The original operator's app=storageos stays for compatibility; the rest are Kubernetes'
// recommended labels, and LabelClusterNamespace maps cluster-scoped objects back to their StorageOSCluster.
const (
	LabelApp              = "app"
	LabelName             = "app.kubernetes.io/name"
	LabelInstance         = "app.kubernetes.io/instance"
	LabelPartOf           = "app.kubernetes.io/part-of"
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	LabelComponent        = "app.kubernetes.io/component"
	LabelClusterNamespace = "storageos.com/cluster-namespace"
)

// Objects of a StorageOS deployment, named as the original operator named them so existing tooling and
// runbooks keep working.
const (
	// DaemonSet runs StorageOS on every node; an upgrade replaces its node container's image.
	DaemonSet     = "storageos-daemonset"
	NodeContainer = "storageos"
	// Scheduler is the scheduler extender's Deployment and the schedulerName the webhook gives StorageOS pods.
	Scheduler = "storageos-scheduler"
	// NodeConfigMap holds the node container's environment.
	NodeConfigMap = "storageos-node-config"
	// CSIDriver is the CSI driver, and the provisioner of StorageOS v2 volumes.
	CSIDriver = "csi.storageos.com"
	// LegacyProvisioner is the in-tree provisioner used when CSI is off.
	LegacyProvisioner = "kubernetes.io/storageos"
)

// NodePodLabels select the node DaemonSet's pods. A DaemonSet's selector is immutable, so they never change;
// the API Service selects the same pods.
func NodePodLabels() map[string]string {
	return map[string]string{LabelApp: "storageos", "kind": "daemonset"}
}
