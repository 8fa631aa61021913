package soak

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A step that would edit or delete a kind of object the driver has none of creates one instead, from the
// driver's own record only, so that the same seed takes the same steps.
func TestActionable(t *testing.T) {
	empty := &soak{apps: map[string]*app{}, nfs: map[string]bool{}}
	some := &soak{apps: map[string]*app{"a": {replicas: 1}}, nfs: map[string]bool{"n": true}}
	for _, tc := range []struct {
		kind            string
		onEmpty, onSome string
	}{
		{EditNFS, CreateNFS, EditNFS},
		{DeleteNFS, CreateNFS, DeleteNFS},
		{ScaleApp, CreateApp, ScaleApp},
		{DeleteApp, CreateApp, DeleteApp},
		{EditCluster, EditCluster, EditCluster},
		{KillManager, KillManager, KillManager},
	} {
		assert.Equal(t, tc.onEmpty, empty.actionable(tc.kind), "%s with nothing", tc.kind)
		assert.Equal(t, tc.onSome, some.actionable(tc.kind), "%s with some", tc.kind)
	}
}

func TestFaultKind(t *testing.T) {
	assert.Equal(t, NodeNotReady, faultKind(NodeNotReady+" node-2"))
	assert.Equal(t, StorageOSDown, faultKind(StorageOSDown))
}

// A fault of a kind already under way extends it rather than stacking a second end that would cut it short.
func TestUntilExtendsAFaultUnderWay(t *testing.T) {
	s := &soak{}
	undo := func(context.Context) error { return nil }
	s.until(StorageOSSlow, time.Minute, undo)
	s.until(StorageOSSlow, time.Second, undo)
	s.until(NodeNotReady+" node-1", time.Second, undo)
	require.Len(t, s.recoveries, 2)
	assert.WithinDuration(t, time.Now().Add(time.Minute), s.recoveries[0].at, 5*time.Second, "the later end kept")
	s.until(StorageOSSlow, 2*time.Minute, undo)
	require.Len(t, s.recoveries, 2)
	assert.WithinDuration(t, time.Now().Add(2*time.Minute), s.recoveries[0].at, 5*time.Second, "extended")
}
