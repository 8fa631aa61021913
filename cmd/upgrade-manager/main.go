// Command upgrade-manager runs offline upgrades of a StorageOS cluster described by StorageOSUpgrade objects.
package main

import (
	"context"
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/upgrade"
)

func main() {
	opts := manager.NewOptions("upgrade-manager", "upgrade-manager.storageos.com")
	opts.Cache = upgrade.CacheOptions()
	opts.BindFlags(flag.CommandLine)
	r := &upgrade.Reconciler{}
	flag.DurationVar(&r.StepTimeout, "step-timeout", upgrade.DefaultStepTimeout,
		"How long each upgrade step (image pull, pause, scale down, node roll, scale up) may go without progress before the upgrade fails.")
	flag.DurationVar(&r.PollInterval, "poll-interval", upgrade.DefaultPollInterval,
		"How soon a waiting upgrade step first looks again; the wait doubles while nothing changes, up to --max-poll-interval.")
	flag.DurationVar(&r.MaxPollInterval, "max-poll-interval", upgrade.DefaultMaxPollInterval,
		"The longest a waiting upgrade step goes without looking again.")
	r.API.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, func(ctx context.Context, mgr ctrl.Manager) error {
		return upgrade.Setup(ctx, mgr, r)
	}))
}
