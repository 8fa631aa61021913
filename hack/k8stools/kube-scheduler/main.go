// Command kube-scheduler is the upstream scheduler, built from k8s.io/kubernetes for the local simulated
// cluster (make demo).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
