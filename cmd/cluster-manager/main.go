// Command cluster-manager turns StorageOSCluster objects into running StorageOS clusters and reports their status.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/manager"
)

func main() {
	opts := manager.NewOptions("cluster-manager", "cluster-manager.storageos.com")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, nil))
}
