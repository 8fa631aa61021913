package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/pkg/api"
	"github.com/operator-framework/operator-registry/pkg/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// validate loads a catalog into the operator registry's model and validates it, as opm validate does.
func validate(cfg declcfg.DeclarativeConfig) error {
	m, err := declcfg.ConvertToModel(cfg)
	if err != nil {
		return err
	}
	return m.Validate()
}

// catalog/ is accepted by the operator framework's own file-based catalog library: package storageos, the
// original's, whose default channel's head is this release, replacing the original's storageosoperator.v2.1.0
// (which the catalog does not hold: operator-registry accepts that at the tail of a replaces chain) and skipping
// every 2.x release before it.
func TestCatalogValidates(t *testing.T) {
	cfg, err := declcfg.LoadFS(context.Background(), os.DirFS(filepath.Join(root, "catalog")))
	require.NoError(t, err)
	require.NoError(t, validate(*cfg))

	m, err := declcfg.ConvertToModel(*cfg)
	require.NoError(t, err)
	require.Len(t, m, 1)
	pkg := m["storageos"]
	require.NotNil(t, pkg, "package storageos")
	assert.Equal(t, "stable", pkg.DefaultChannel.Name)
	require.Contains(t, pkg.Channels, "stable")
	require.Contains(t, pkg.Channels, "fast")
	for name, ch := range pkg.Channels {
		head, err := ch.Head()
		require.NoError(t, err, "channel %s", name)
		ver := head.Version.String()
		assert.Equal(t, "storageosoperator.v"+ver, head.Name, "channel %s", name)
		assert.Equal(t, "storageos/cluster-operator-bundle:v"+ver, head.Image)
		assert.Equal(t, "storageosoperator.v2.1.0", head.Replaces, "channel %s", name)
		assert.NotContains(t, ch.Bundles, head.Replaces, "the original's bundle is not in the catalog")
		assert.Equal(t, ">=2.0.0 <"+ver, head.SkipRange, "channel %s", name)
	}
}

// A Subscription to the original operator upgrades to this release from the catalog. opm serve answers OLM from
// the cache built here (the same code); OLM's resolver then takes as the next bundle of a Subscription a
// channel entry that replaces or skips the installed CSV by name, or whose skipRange holds its version
// (operator-lifecycle-manager's resolver: Or(SkipRangeIncludes(version), Replaces(name))). The installed CSV
// comes from the cluster, not from the catalog, so the original's bundles need not be in it.
func TestOriginalSubscriptionsUpgradeToThisRelease(t *testing.T) {
	ctx := context.Background()
	served, err := cache.New(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = served.Close() })
	require.NoError(t, cache.LoadOrRebuild(ctx, served, os.DirFS(filepath.Join(root, "catalog"))))
	bundles, err := served.ListBundles(ctx)
	require.NoError(t, err)

	for _, channel := range []string{"stable", "fast"} {
		latest, err := served.GetBundleForChannel(ctx, "storageos", channel)
		require.NoError(t, err, "channel %s", channel)
		head := latest.CsvName
		// What OLM asks first for a Subscription at the original's last v2.1.0.
		b, err := served.GetBundleThatReplaces(ctx, "storageosoperator.v2.1.0", "storageos", channel)
		if assert.NoError(t, err, "channel %s", channel) {
			assert.Equal(t, head, b.CsvName, "channel %s", channel)
		}
		for installed, next := range map[string]string{
			"storageosoperator.v2.1.0": head, // the release this one replaces
			"storageosoperator.v2.0.0": head, // through skipRange
			"storageosoperator.v2.4.2": head, // the original's last release, also through skipRange
			"storageosoperator.v1.5.3": "",   // StorageOS v1: no operator upgrade reaches v2
			head:                       "",   // the head has nothing after it
		} {
			got := upgradesOf(t, bundles, "storageos", channel, installed)
			assert.Equal(t, next, got, "channel %s: the upgrade of a Subscription at %s", channel, installed)
		}
	}
}

// upgradesOf is the bundle OLM's resolver installs next for a Subscription at installed: the channel's entry
// that replaces or skips it by name, or whose skipRange includes its version; "" when there is none.
func upgradesOf(t *testing.T, bundles []*api.Bundle, pkg, channel, installed string) string {
	installedVersion := semver.MustParse(installed[len("storageosoperator.v"):])
	var next []string
	for _, b := range bundles {
		if b.PackageName != pkg || b.ChannelName != channel {
			continue
		}
		upgrades := b.Replaces == installed || slices.Contains(b.Skips, installed)
		if b.SkipRange != "" {
			r, err := semver.ParseRange(b.SkipRange)
			require.NoError(t, err, "skipRange of %s", b.CsvName)
			upgrades = upgrades || r(installedVersion)
		}
		if upgrades {
			next = append(next, b.CsvName)
		}
	}
	require.LessOrEqual(t, len(next), 1, "one upgrade of %s in channel %s", installed, channel)
	if len(next) == 0 {
		return ""
	}
	return next[0]
}

// config/olm subscribes to what the catalog serves: its package, a channel of it, through the CatalogSource it
// installs.
func TestOLMInstallSubscribesToTheCatalog(t *testing.T) {
	var sub v1alpha1.Subscription
	var source v1alpha1.CatalogSource
	for path, obj := range map[string]any{"subscription.yaml": &sub, "catalogsource.yaml": &source} {
		data, err := os.ReadFile(filepath.Join(root, "config", "olm", path))
		require.NoError(t, err)
		require.NoError(t, yaml.UnmarshalStrict(data, obj), path)
	}
	cfg, err := Catalog(root)
	require.NoError(t, err)
	var channels []string
	for _, c := range cfg.Channels {
		channels = append(channels, c.Name)
	}
	assert.Equal(t, packageName, sub.Spec.Package, "config/olm/subscription.yaml spec.name is the package")
	assert.Contains(t, channels, sub.Spec.Channel)
	assert.Equal(t, source.Name, sub.Spec.CatalogSource)
	assert.Equal(t, source.Namespace, sub.Spec.CatalogSourceNamespace)
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
	entries, err := os.ReadDir(filepath.Join(root, "catalog"))
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	assert.Equal(t, []string{packageName}, dirs, "catalog/ holds one directory, the package's")
}

// The validation has teeth: a broken upgrade graph fails it.
func TestBrokenChannelsFailValidation(t *testing.T) {
	good, err := Catalog(root)
	require.NoError(t, err)
	require.NoError(t, validate(*good))
	cases := map[string]func(*declcfg.DeclarativeConfig){
		"entry for a bundle missing from the catalog": func(c *declcfg.DeclarativeConfig) {
			c.Channels[0].Entries = append(c.Channels[0].Entries, declcfg.ChannelEntry{Name: "storageosoperator.v9.9.9", Replaces: c.Bundles[0].Name})
		},
		"bundle removed while channels list it": func(c *declcfg.DeclarativeConfig) { c.Bundles = nil },
		"default channel that does not exist":   func(c *declcfg.DeclarativeConfig) { c.Packages[0].DefaultChannel = "candidate" },
		"two heads in one channel": func(c *declcfg.DeclarativeConfig) {
			other := c.Bundles[0]
			other.Name, other.Properties = "storageosoperator.v2.4.0", nil
			c.Bundles = append(c.Bundles, other)
			c.Channels[0].Entries = append(c.Channels[0].Entries, declcfg.ChannelEntry{Name: other.Name})
		},
		"a replaces chain that loops": func(c *declcfg.DeclarativeConfig) {
			c.Channels[0].Entries[0].Replaces = c.Channels[0].Entries[0].Name
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
