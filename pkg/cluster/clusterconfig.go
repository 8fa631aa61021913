package cluster

import (
	"context"
	"fmt"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

// reconcileClusterConfig makes the StorageOS cluster's telemetry and log level match disableTelemetry and
// debug, once the cluster runs and unless it is paused. A failure is reported in APIReady.
//
// The settings are read from StorageOS only when they may differ: the first time this process sees the cluster,
// when the spec's settings change, and after the API failed (StorageOS may have been replaced meanwhile). A
// settled cluster's poll is then a single API call (the node list). The memo is an optimisation, not state: a
// restarted cluster-manager has none and checks once.
func (r *Reconciler) reconcileClusterConfig(ctx context.Context, s *scope) {
	o := s.observed
	uid := s.cluster.UID
	if o.api.asked && o.api.err != nil {
		r.configChecked.Delete(uid)
	}
	if s.paused || !o.running() || !o.api.asked || o.api.err != nil {
		return
	}
	want := fmt.Sprintf("debug=%t disableTelemetry=%t", s.cluster.Spec.Debug, s.cluster.Spec.DisableTelemetry)
	if checked, ok := r.configChecked.Load(uid); ok && checked == want {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if o.api.err = pushClusterConfig(ctx, r.api(s), s.cluster.Spec); o.api.err != nil {
		r.configChecked.Delete(uid)
		return
	}
	r.configChecked.Store(uid, want)
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
