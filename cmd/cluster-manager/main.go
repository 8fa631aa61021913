// Command cluster-manager turns StorageOSCluster objects into running StorageOS clusters, reports their status,
// copies Kubernetes node labels to the StorageOS nodes and runs the NFS servers of NFSServer objects.
package main

import (
	"context"
	"flag"
	"os"

	"github.com/storageos/cluster-operator/pkg/admission"
	"github.com/storageos/cluster-operator/pkg/names"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/cluster"
	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/nfs"
	"github.com/storageos/cluster-operator/pkg/nodelabels"
)

func main() {
	opts := manager.NewOptions("cluster-manager", "cluster-manager.storageos.com")
	opts.Cache = nfs.CacheOptions(cluster.CacheOptions())
	opts.BindFlags(flag.CommandLine)
	r := &cluster.Reconciler{}
	flag.StringVar(&r.DefaultK8sDistro, "default-k8s-distro", "",
		"The k8sDistro of StorageOSClusters that set none, e.g. openshift (the OpenShift install sets it).")
	r.API.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, func(ctx context.Context, mgr ctrl.Manager) error {
		// The authority model's admission policies: an OLM install has no other way to get them.
		if err := mgr.Add(&admission.Ensurer{Client: mgr.GetClient(), FieldOwner: names.ClusterManager}); err != nil {
			return err
		}
		if err := cluster.Setup(ctx, mgr, r); err != nil {
			return err
		}
		if err := nodelabels.Setup(ctx, mgr, &nodelabels.Reconciler{API: r.API}); err != nil {
			return err
		}
		return nfs.Setup(ctx, mgr, &nfs.Reconciler{DefaultK8sDistro: r.DefaultK8sDistro})
	}))
}
