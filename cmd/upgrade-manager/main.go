// Command upgrade-manager runs offline upgrades of a StorageOS cluster described by StorageOSUpgrade objects.
package main

import (
	"context"
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/storageos"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

func main() {
	opts := manager.NewOptions("upgrade-manager", "upgrade-manager.storageos.com")
	opts.Cache = upgrade.CacheOptions()
	opts.BindFlags(flag.CommandLine)
	r := &upgrade.Reconciler{}
	flag.DurationVar(&r.StepTimeout, "step-timeout", upgrade.DefaultStepTimeout,
		"How long each upgrade step (image pull, pause, scale down, node roll, scale up) may take before the upgrade fails.")
	flag.DurationVar(&r.PollInterval, "poll-interval", upgrade.DefaultPollInterval, "How often a waiting upgrade step looks again.")
	storageos.BindEndpointFlag(flag.CommandLine, &r.APIEndpoint)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, func(ctx context.Context, mgr ctrl.Manager) error {
		return upgrade.Setup(ctx, mgr, r)
	}))
}
