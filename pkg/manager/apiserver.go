package manager

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// apiServerWait bounds how long a binary waits at start for the API server to answer.
const apiServerWait = 2 * time.Minute

// discoveryCallTimeout bounds each discovery call of that wait: an API server that accepts connections but does
// not answer (still starting, or a load balancer in front of none) must not hold the wait past its bound.
const discoveryCallTimeout = 10 * time.Second

// waitForAPIServer waits until the API server answers discovery, which building the manager needs (the REST
// mapping of the kinds it caches). A binary started while the API server restarts (a control-plane upgrade or
// crash, found by make soak) would otherwise exit at once and be restarted by its kubelet with a growing
// back-off, showing as a crash loop for what is a short outage.
func waitForAPIServer(ctx context.Context, cfg *rest.Config, timeout time.Duration, log logr.Logger) error {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = min(discoveryCallTimeout, timeout)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(context.Context) (bool, error) {
		_, last = dc.ServerGroups()
		if last == nil {
			return true, nil
		}
		// Not an error of the poll: the API server is asked again until the timeout.
		log.Info("Waiting for the API server", "error", last.Error())
		return false, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}
