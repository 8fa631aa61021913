// Command upgrade-manager runs offline upgrades of a StorageOS cluster described by StorageOSUpgrade objects.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/manager"
)

func main() {
	opts := manager.NewOptions("upgrade-manager", "upgrade-manager.storageos.com")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, nil))
}
