package manager

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// NewScheme returns a scheme with the built-in Kubernetes kinds and the storageos.com kinds.
func NewScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(storageosv1.AddToScheme(scheme))
	return scheme
}
