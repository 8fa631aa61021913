package cluster

import (
	"context"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// reconcileClusterConfig makes the StorageOS cluster's telemetry and log level match disableTelemetry and
// debug, once the cluster runs and unless it is paused. A failure is reported in APIReady.
func (r *Reconciler) reconcileClusterConfig(ctx context.Context, s *scope) {
	o := s.observed
	if s.paused || !o.running() || !o.api.asked || o.api.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	o.api.err = pushClusterConfig(ctx, r.api(s), s.cluster.Spec)
}

func pushClusterConfig(ctx context.Context, api storageos.API, spec storageosv1.StorageOSClusterSpec) error {
	current, err := api.GetCluster(ctx)
	if err != nil {
		return err
	}
	wantLevel := "info"
	if spec.Debug {
		wantLevel = "debug"
	}
	off := spec.DisableTelemetry
	if current.DisableTelemetry == off && current.DisableCrashReporting == off && current.DisableVersionCheck == off &&
		current.LogLevel == wantLevel {
		return nil
	}
	update := *current
	update.DisableTelemetry, update.DisableCrashReporting, update.DisableVersionCheck = off, off, off
	update.LogLevel = wantLevel
	_, err = api.UpdateCluster(ctx, update)
	return err
}
