package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/alpha/property"
	"sigs.k8s.io/yaml"
)

// bundleImageRepository is where release bundles are pushed; a bundle's image is this with tag v<version>.
const bundleImageRepository = "storageos/cluster-operator-bundle"

// Catalog builds the file-based catalog of the package from bundle/: the package, the stable and fast
// channels and the bundle, with the CSV and CRDs as olm.bundle.object properties as opm render writes them.
// Each channel entry carries the CSV's spec.replaces and olm.skipRange, as opm's templates take them from a
// bundle: it replaces the original operator's storageosoperator.v2.1.0 and skips every 2.x release before it,
// so a Subscription at any of them upgrades straight to this bundle. The original's bundles are not in the
// catalog and need not be: OLM finds the upgrade of an installed CSV by its name (replaces, skips) or version
// (skipRange) among the catalog's entries, and operator-registry lets the last entry of a replaces chain
// replace a bundle the catalog does not hold.
func Catalog(root string) (*declcfg.DeclarativeConfig, error) {
	b, err := manifests.GetBundleFromDir(filepath.Join(root, "bundle"))
	if err != nil {
		return nil, err
	}
	csv := b.CSV
	ver := csv.Spec.Version.String()
	var props []property.Property
	props = append(props, property.MustBuildPackage(packageName, ver))
	for _, crd := range b.V1CRDs {
		for _, v := range crd.Spec.Versions {
			if v.Served {
				props = append(props, property.MustBuildGVK(crd.Spec.Group, v.Name, crd.Spec.Names.Kind))
			}
		}
	}
	objects := []any{csv}
	for _, crd := range b.V1CRDs {
		objects = append(objects, crd)
	}
	for _, obj := range objects {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		json, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, err
		}
		props = append(props, property.MustBuildBundleObject(json))
	}
	var related []declcfg.RelatedImage
	for _, r := range csv.Spec.RelatedImages {
		related = append(related, declcfg.RelatedImage{Name: r.Name, Image: r.Image})
	}
	bundleName := csv.Name
	image := bundleImageRepository + ":v" + ver
	related = append(related, declcfg.RelatedImage{Image: image})
	sort.Slice(related, func(i, j int) bool { return related[i].Image < related[j].Image })

	cfg := &declcfg.DeclarativeConfig{
		Packages: []declcfg.Package{{Schema: declcfg.SchemaPackage, Name: packageName, DefaultChannel: defaultChannel,
			Description: csv.Spec.Description,
			Icon:        &declcfg.Icon{Data: mustDecode(csv.Spec.Icon[0].Data), MediaType: csv.Spec.Icon[0].MediaType}}},
		Bundles: []declcfg.Bundle{{Schema: declcfg.SchemaBundle, Name: bundleName, Package: packageName, Image: image,
			Properties: props, RelatedImages: related}},
	}
	for _, channel := range []string{"fast", "stable"} {
		cfg.Channels = append(cfg.Channels, declcfg.Channel{Schema: declcfg.SchemaChannel, Package: packageName, Name: channel,
			Entries: []declcfg.ChannelEntry{{Name: bundleName, Replaces: csv.Spec.Replaces, SkipRange: csv.Annotations[v1alpha1.SkipRangeAnnotationKey]}}})
	}
	return cfg, nil
}

func mustDecode(s string) []byte {
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("the CSV icon is not base64: %v", err))
	}
	return data
}

// catalogFiles are the catalog's files, by path relative to the repository root.
func catalogFiles(root string) (map[string][]byte, error) {
	cfg, err := Catalog(root)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := declcfg.WriteYAML(*cfg, &out); err != nil {
		return nil, err
	}
	return map[string][]byte{
		"catalog/" + packageName + "/catalog.yaml": out.Bytes(),
		"catalog.Dockerfile":                       []byte(catalogDockerfile),
	}, nil
}

func writeCatalog(root string, files map[string][]byte) error {
	return writeFiles(root, files, filepath.Join(root, "catalog"))
}

// catalogDockerfile serves the catalog with opm, as the operator framework's catalog images do.
const catalogDockerfile = `# The file-based catalog of the StorageOS operator, served by opm.
FROM quay.io/operator-framework/opm:v1.60.0
ENTRYPOINT ["/bin/opm"]
CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]
ADD catalog /configs
RUN ["/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"]
LABEL operators.operatorframework.io.index.configs.v1=/configs
`
