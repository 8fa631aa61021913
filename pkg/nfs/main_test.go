//go:build !mutation

// The envtest suite of this package carries the constraint !mutation: make mutation (hack/mutation.sh) builds
// the package with the tag mutation, so that each mutant is judged by the table tests alone, in seconds.

package nfs_test

import (
	"context"
	"time"

	"testing"

	"github.com/storageos/cluster-operator/internal/test/envtest"
	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/nfs"
)

var testEnv *envtest.Environment

// env is the cluster-manager's environment in these tests: RELATED_IMAGE_NFS pins the default image.
var env = map[string]string{"RELATED_IMAGE_NFS": "registry.example.com/storageos/nfs:pinned"}

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv, startNFSController)
}

// startNFSController runs the NFSServer controller in-process as the cluster-manager's ServiceAccount, with the
// cluster-manager's cache. envtest has no controller-manager and no kubelets: the tests play the StatefulSet
// controller, the volume binder and the kubelet, and Kubernetes' garbage collector does not run.
func startNFSController(e *envtest.Environment) (func(), error) {
	asClusterManager, err := e.AsBinary(context.Background(), "cluster-manager")
	if err != nil {
		return nil, err
	}
	opts := manager.NewOptions("cluster-manager", "")
	opts.Cache = nfs.CacheOptions(cluster.CacheOptions())
	mgr, err := e.NewManager(opts, asClusterManager)
	if err != nil {
		return nil, err
	}
	if err := nfs.Setup(context.Background(), mgr, &nfs.Reconciler{Getenv: func(k string) string { return env[k] },
		// The ServiceMonitor kind is installed during the tests.
		DiscoveryInterval: time.Millisecond}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return envtest.StartManager(ctx, cancel, mgr, "cluster-manager"), nil
}
