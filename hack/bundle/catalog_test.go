package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validate loads a catalog into the operator registry's model and validates it, as opm validate does.
func validate(cfg declcfg.DeclarativeConfig) error {
	m, err := declcfg.ConvertToModel(cfg)
	if err != nil {
		return err
	}
	return m.Validate()
}

// catalog/ is accepted by the operator framework's own file-based catalog library, and every channel leads
// from any earlier version to the newest bundle.
func TestCatalogValidates(t *testing.T) {
	cfg, err := declcfg.LoadFS(context.Background(), os.DirFS(filepath.Join(root, "catalog")))
	require.NoError(t, err)
	require.NoError(t, validate(*cfg))

	m, err := declcfg.ConvertToModel(*cfg)
	require.NoError(t, err)
	pkg := m[packageName]
	require.NotNil(t, pkg, "package %s", packageName)
	assert.Equal(t, defaultChannel, pkg.DefaultChannel.Name)
	require.Contains(t, pkg.Channels, "stable")
	require.Contains(t, pkg.Channels, "fast")
	for name, ch := range pkg.Channels {
		head, err := ch.Head()
		require.NoError(t, err, "channel %s", name)
		assert.Equal(t, "storageos-operator.v"+head.Version.String(), head.Name)
		assert.Equal(t, "<"+head.Version.String(), head.SkipRange, "channel %s: every earlier release upgrades to the head", name)
		assert.Contains(t, []string{"storageos/cluster-operator-bundle:v" + head.Version.String()}, head.Image)
	}
}

// catalog/ is what `make catalog` writes from bundle/.
func TestCatalogIsCurrent(t *testing.T) {
	files, err := catalogFiles(root)
	require.NoError(t, err)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if assert.NoError(t, err, "%s is missing: run make catalog", name) {
			assert.Equal(t, string(want), string(got), "%s is stale: run make bundle catalog", name)
		}
	}
}

// The validation has teeth: a broken upgrade graph fails it.
func TestBrokenChannelsFailValidation(t *testing.T) {
	good, err := Catalog(root)
	require.NoError(t, err)
	require.NoError(t, validate(*good))
	cases := map[string]func(*declcfg.DeclarativeConfig){
		"entry for a bundle missing from the catalog": func(c *declcfg.DeclarativeConfig) {
			c.Channels[0].Entries = append(c.Channels[0].Entries, declcfg.ChannelEntry{Name: "storageos-operator.v9.9.9", Replaces: c.Bundles[0].Name})
		},
		"bundle removed while channels list it": func(c *declcfg.DeclarativeConfig) { c.Bundles = nil },
		"default channel that does not exist":   func(c *declcfg.DeclarativeConfig) { c.Packages[0].DefaultChannel = "candidate" },
		"two heads in one channel": func(c *declcfg.DeclarativeConfig) {
			other := c.Bundles[0]
			other.Name, other.Properties = "storageos-operator.v2.4.0", nil
			c.Bundles = append(c.Bundles, other)
			c.Channels[0].Entries = append(c.Channels[0].Entries, declcfg.ChannelEntry{Name: other.Name})
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			broken, err := Catalog(root)
			require.NoError(t, err)
			breakIt(broken)
			assert.Error(t, validate(*broken))
		})
	}
}
