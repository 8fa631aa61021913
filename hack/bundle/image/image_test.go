package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var operatorBinaries = []string{"cluster-manager", "job-manager", "scheduler-webhook", "upgrade-manager"}

// binariesFor writes stand-in binaries for each platform, as the Makefile's go build lays them out.
func binariesFor(t *testing.T, platforms ...string) string {
	dir := t.TempDir()
	for _, p := range platforms {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
		for _, b := range operatorBinaries {
			require.NoError(t, os.WriteFile(filepath.Join(dir, p, b), []byte(p+"/"+b), 0o755))
		}
	}
	return dir
}

// layerFiles are the files of an image's only layer, by name, with their mode and content.
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		assert.Zero(t, h.Uid, h.Name)
		assert.Equal(t, epoch, h.ModTime.UTC(), h.Name)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name] = filepath.Base(os.FileMode(h.Mode).String()) + " " + string(data)
	}
	return files
}

// One platform gives one image named in the layout: the binaries at / as the Deployments' commands name them,
// run as the nonroot user.
func TestOnePlatformIsAnImage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "oci")
	digest, err := Write(out, name.MustParseReference("storageos/cluster-operator:test").(name.Tag), binariesFor(t, "linux_amd64"), "2.5.0")
	require.NoError(t, err)

	index, err := layout.ImageIndexFromPath(out)
	require.NoError(t, err)
	manifest, err := index.IndexManifest()
	require.NoError(t, err)
	require.Len(t, manifest.Manifests, 1)
	desc := manifest.Manifests[0]
	assert.Equal(t, digest, desc.Digest)
	assert.True(t, desc.MediaType.IsImage())
	assert.Equal(t, "test", desc.Annotations["org.opencontainers.image.ref.name"])
	assert.Equal(t, "docker.io/storageos/cluster-operator:test", desc.Annotations["io.containerd.image.name"])
	assert.Equal(t, "linux/amd64", desc.Platform.String())

	img, err := index.Image(desc.Digest)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cfg.Config.User)
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.Equal(t, "2.5.0", cfg.Config.Labels["org.opencontainers.image.version"])
	files := layerFiles(t, img)
	for _, b := range operatorBinaries {
		assert.Equal(t, "-rwxr-xr-x linux_amd64/"+b, files[b])
	}
	assert.Contains(t, files["etc/passwd"], "nonroot:x:65532:65532:")
	assert.Contains(t, files, "tmp/")
}

// Several platforms give an index of one image each; the same binaries give the same digests.
func TestPlatformsMakeAnIndexAndAreReproducible(t *testing.T) {
	binaries := binariesFor(t, "linux_amd64", "linux_arm64")
	tag := name.MustParseReference("storageos/cluster-operator:v2.5.0").(name.Tag)
	first, err := Write(filepath.Join(t.TempDir(), "oci"), tag, binaries, "2.5.0")
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "oci")
	second, err := Write(out, tag, binaries, "2.5.0")
	require.NoError(t, err)
	assert.Equal(t, first, second)

	layoutIndex, err := layout.ImageIndexFromPath(out)
	require.NoError(t, err)
	top, err := layoutIndex.IndexManifest()
	require.NoError(t, err)
	require.Len(t, top.Manifests, 1)
	assert.True(t, top.Manifests[0].MediaType.IsIndex())
	assert.Equal(t, second, top.Manifests[0].Digest)
	index, err := layoutIndex.ImageIndex(second)
	require.NoError(t, err)
	manifest, err := index.IndexManifest()
	require.NoError(t, err)
	var platforms []string
	for _, m := range manifest.Manifests {
		platforms = append(platforms, m.Platform.String())
		img, err := index.Image(m.Digest)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, m.Platform.Architecture, cfg.Architecture)
		assert.Equal(t, "-rwxr-xr-x linux_"+cfg.Architecture+"/cluster-manager", layerFiles(t, img)["cluster-manager"])
	}
	assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, platforms)
}

func TestBadBinaryDirectoriesFail(t *testing.T) {
	tag := name.MustParseReference("storageos/cluster-operator:test").(name.Tag)
	empty := binariesFor(t, "linux_amd64")
	require.NoError(t, os.MkdirAll(filepath.Join(empty, "linux_arm64"), 0o755))
	for why, dir := range map[string]string{
		"missing":                     filepath.Join(t.TempDir(), "none"),
		"no platform directory":       t.TempDir(),
		"not <os>_<arch>":             binariesFor(t, "amd64"),
		"a platform without binaries": empty,
	} {
		t.Run(why, func(t *testing.T) {
			_, err := Write(filepath.Join(t.TempDir(), "oci"), tag, dir, "")
			assert.Error(t, err)
		})
	}
}
