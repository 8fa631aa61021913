// Command job-manager runs jobs.storageos.com Jobs: a task on every selected node, backed by a DaemonSet.
package main

import (
	"context"
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/job"
	"github.com/storageos/cluster-operator/pkg/manager"
)

func main() {
	opts := manager.NewOptions("job-manager", "job-manager.storageos.com")
	opts.Cache = job.CacheOptions()
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, func(ctx context.Context, mgr ctrl.Manager) error {
		return job.Setup(ctx, mgr, &job.Reconciler{})
	}))
}
