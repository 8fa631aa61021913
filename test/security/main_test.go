// Package security plays attackers against each install of the operator on a real, RBAC-enforcing API server:
// a namespace editor holding every right on storageos.com in its namespace (as OLM's aggregation into the
// built-in edit role grants) must not be able to upgrade, pause, take over or delete the StorageOS cluster, use a
// Secret it cannot read, or run a pod it could not run; administrators can still do everything the README shows.
package security

import (
	"testing"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

var testEnv *envtest.Environment

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv)
}
