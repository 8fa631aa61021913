// Command job-manager runs jobs.storageos.com Jobs: a task on every selected node, backed by a DaemonSet.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/manager"
)

func main() {
	opts := manager.NewOptions("job-manager", "job-manager.storageos.com")
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, nil))
}
