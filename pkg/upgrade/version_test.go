package upgrade_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/storageos/cluster-operator/pkg/upgrade"
)

func TestVersionWarnings(t *testing.T) {
	cases := []struct {
		name     string
		from, to string
		want     []string
	}{
		{"a patch upgrade", "storageos/node:v2.1.0", "storageos/node:v2.1.1", nil},
		{"a minor upgrade, with and without the v", "storageos/node:v2.1.0", "storageos/node:2.2.0", nil},
		{"a major upgrade", "storageos/node:v1.5.3", "storageos/node:v2.0.0",
			[]string{"v1.5.3 to v2.0.0 changes the major version (1 to 2): read StorageOS's notes for it first"}},
		{"the seed's sample: a downgrade across a major version", "storageos/node:v2.1.0", "storageos/node:1.0.0", []string{
			"v2.1.0 to 1.0.0 is a downgrade: data written by v2.1.0 may not be readable by 1.0.0; make sure StorageOS supports going back",
			"v2.1.0 to 1.0.0 changes the major version (2 to 1): read StorageOS's notes for it first"}},
		{"a downgrade within a major version", "storageos/node:v2.2.0", "storageos/node:v2.1.9",
			[]string{"v2.2.0 to v2.1.9 is a downgrade: data written by v2.2.0 may not be readable by v2.1.9; make sure StorageOS supports going back"}},
		{"from a release to its pre-release is a downgrade", "storageos/node:v2.2.0", "storageos/node:v2.2.0-rc.1",
			[]string{"v2.2.0 to v2.2.0-rc.1 is a downgrade: data written by v2.2.0 may not be readable by v2.2.0-rc.1; make sure StorageOS supports going back"}},
		{"from a pre-release to its release", "storageos/node:v2.2.0-rc.1", "storageos/node:v2.2.0", nil},
		{"dotted numbers that are not semantic versions compare too", "storageos/node:2.1", "storageos/node:2.2-ubuntu", nil},
		{"a tag that is not a version", "storageos/node:v2.1.0", "storageos/node:latest",
			[]string{`the tag of storageos/node:latest ("latest") is not a version: whether this is an upgrade or a downgrade cannot be told`}},
		{"no tag is latest", "storageos/node", "storageos/node:v2.1.0",
			[]string{`the tag of storageos/node ("latest") is not a version: whether this is an upgrade or a downgrade cannot be told`}},
		{"a digest alone", "storageos/node:v2.1.0", "storageos/node@sha256:0123456789abcdef0123456789abcdef",
			[]string{`storageos/node@sha256:0123456789abcdef0123456789abcdef is pinned by digest alone: whether this is an upgrade or a downgrade cannot be told`}},
		{"the same version spelled otherwise", "storageos/node:v2.1.0", "docker.io/storageos/node:2.1.0",
			[]string{"storageos/node:v2.1.0 and docker.io/storageos/node:2.1.0 are the same version: the upgrade would replace every node pod with what may be the same StorageOS"}},
		{"the same version from another repository is only another repository", "storageos/node:v2.1.0", "quay.io/storageos/node:v2.1.0",
			[]string{"the new image's repository quay.io/storageos/node differs from the one the cluster runs, docker.io/storageos/node: make sure it is a StorageOS node image"}},
		{"a tag with a digest is read by its tag", "storageos/node:v2.1.0", "storageos/node:v2.2.0@sha256:0123456789abcdef0123456789abcdef", nil},
		{"another repository", "storageos/node:v2.1.0", "quay.io/someone/node:v2.2.0",
			[]string{"the new image's repository quay.io/someone/node differs from the one the cluster runs, docker.io/storageos/node: make sure it is a StorageOS node image"}},
		{"Docker Hub named in full is the same repository", "storageos/node:v2.1.0", "docker.io/storageos/node:v2.2.0", nil},
		{"index.docker.io is Docker Hub", "index.docker.io/storageos/node:v2.1.0", "storageos/node:v2.2.0", nil},
		{"a single name is Docker Hub's library", "docker.io/library/node:v2.1.0", "node:v2.2.0", nil},
		{"a registry with a port, and its tag", "registry.local:5000/storageos/node:v2.1.0", "registry.local:5000/storageos/node:v2.2.0", nil},
		{"localhost is a registry", "localhost/storageos/node:v2.1.0", "storageos/node:v2.1.0",
			[]string{"the new image's repository docker.io/storageos/node differs from the one the cluster runs, localhost/storageos/node: make sure it is a StorageOS node image"}},
		{"the image the cluster runs", "storageos/node:v2.1.0", "storageos/node:v2.1.0",
			[]string{"the cluster already runs storageos/node:v2.1.0: the upgrade would change nothing and will be refused"}},
		{"an unknown current image", "", "storageos/node:v2.1.0",
			[]string{"the node image the cluster runs is not known yet: the upgrade's direction cannot be told"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, upgrade.VersionWarnings(c.from, c.to))
		})
	}
}
