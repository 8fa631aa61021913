// Package kustomize renders config/default and every overlay with kustomize's Go library and checks what a
// wrong install would break: each binary's Deployment, ServiceAccount and bindings, the webhook's Service and
// registration, security settings, images, and acceptance by a real API server (server-side dry run).
package kustomize

import (
	"testing"

	"github.com/storageos/cluster-operator/internal/test/envtest"
)

var testEnv *envtest.Environment

func TestMain(m *testing.M) {
	envtest.Run(m, &testEnv)
}
