package upgrade

// The upgrade-manager changes the cluster's spec.pause and spec.images.nodeContainer on behalf of an upgrade.
// The admission policy (pkg/admission) lets such changes through only for holders of the upgrade verb, which no
// aggregated edit/admin role grants; creating the StorageOSUpgrade took the same verb.
// +kubebuilder:rbac:groups=storageos.com,resources=storageosclusters,verbs=upgrade
