package upgrade

// The upgrade-manager changes the cluster's spec.pause and spec.images.nodeContainer on behalf of an upgrade and
// pre-pulls the image with a storageos.com Job. The admission policy (pkg/admission) lets these through only for
// holders of the upgrade right, update on storageosclusters/upgrade, which no aggregated role grants; creating the
// StorageOSUpgrade took the same right.
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters/upgrade,verbs=update
