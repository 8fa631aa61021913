// Package v1 contains the storageos.com/v1 API: StorageOSCluster, StorageOSUpgrade, Job and NFSServer.
//
// The kinds, field names, defaults and printer columns are those of the original StorageOS cluster-operator,
// so manifests written for it keep working.
//
// +kubebuilder:object:generate=true
// +groupName=storageos.com
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "storageos.com", Version: "v1"}

	// SchemeBuilder registers this package's kinds. It is apimachinery's builder rather than
	// controller-runtime's so that importing the API does not pull in controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the storageos.com/v1 kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&StorageOSCluster{}, &StorageOSClusterList{},
		&StorageOSUpgrade{}, &StorageOSUpgradeList{},
		&Job{}, &JobList{},
		&NFSServer{}, &NFSServerList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
