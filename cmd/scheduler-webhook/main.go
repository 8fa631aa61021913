// Command scheduler-webhook is the mutating admission webhook that sends pods using StorageOS volumes to the
// StorageOS scheduler.
//
// Every replica serves admission requests, so it never runs leader election.
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/storageos/cluster-operator/pkg/manager"
	"github.com/storageos/cluster-operator/pkg/schedulerwebhook"
)

func main() {
	opts := manager.NewOptions("scheduler-webhook", "")
	opts.Webhook = &webhook.Options{Port: 9443}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	os.Exit(manager.Run(ctrl.SetupSignalHandler(), opts, schedulerwebhook.Setup))
}
