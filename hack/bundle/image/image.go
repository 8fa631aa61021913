package main

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the user the binaries run as: distroless's nonroot, as in the Dockerfile.
const nonroot = "65532"

// epoch dates every file and the image itself, so the same binaries give the same image.
var epoch = time.Unix(0, 0).UTC()

// baseFiles are what the distroless base gives the Dockerfile's image that the binaries (or people debugging
// them) rely on: a name for the nonroot user, and /tmp.
var baseFiles = []struct {
	name string
	mode int64
	data string
}{
	{"etc/", 0o755, ""},
	{"etc/group", 0o644, "root:x:0:\nnonroot:x:" + nonroot + ":\n"},
	{"etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:" + nonroot + ":" + nonroot + ":nonroot:/home/nonroot:/sbin/nologin\n"},
	{"tmp/", 0o1777, ""},
}

// Write builds the image of every platform under binaries and writes it to the OCI layout out, named tag; it
// returns the digest of the image, or of the index when there are several platforms.
func Write(out string, tag name.Tag, binaries, version string) (v1.Hash, error) {
	platforms, err := platformsIn(binaries)
	if err != nil {
		return v1.Hash{}, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       "StorageOS cluster operator",
		"org.opencontainers.image.description": "cluster-manager, upgrade-manager, job-manager and scheduler-webhook of the StorageOS cluster operator",
		"org.opencontainers.image.vendor":      "StorageOS",
		"org.opencontainers.image.source":      "https://github.com/storageos/cluster-operator",
	}
	if version != "" {
		labels["org.opencontainers.image.version"] = version
	}
	var images []mutate.IndexAddendum
	for _, p := range platforms {
		img, err := Build(filepath.Join(binaries, p.OS+"_"+p.Architecture), p, labels)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", p, err)
		}
		images = append(images, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}

	if err := os.RemoveAll(out); err != nil {
		return v1.Hash{}, err
	}
	path, err := layout.Write(out, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	named := layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag.TagStr(),
		// containerd's name for Docker Hub images is docker.io/..., go-containerregistry's index.docker.io/...
		"io.containerd.image.name": strings.Replace(tag.Name(), name.DefaultRegistry+"/", "docker.io/", 1),
	})
	if len(images) == 1 {
		img := images[0].Add.(v1.Image)
		if err := path.AppendImage(img, named, layout.WithPlatform(platforms[0])); err != nil {
			return v1.Hash{}, err
		}
		return img.Digest()
	}
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), images...)
	if err := path.AppendIndex(index, named); err != nil {
		return v1.Hash{}, err
	}
	return index.Digest()
}

// Build is the image of one platform: the binaries in dir at /, the base files, USER nonroot.
func Build(dir string, platform v1.Platform, labels map[string]string) (v1.Image, error) {
	files, err := binariesIn(dir)
	if err != nil {
		return nil, err
	}
	// The layer is written from the files each time it is read (digest, then layout), never held in memory.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		r, w := io.Pipe()
		go func() { w.CloseWithError(writeLayer(w, dir, files)) }()
		return r, nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "hack/bundle/image: " + strings.Join(files, ", "),
	}})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.User = nonroot + ":" + nonroot
	cfg.Config.Labels = labels
	return mutate.ConfigFile(img, cfg)
}

// binariesIn are the regular files of dir, in name order.
func binariesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, e.Name())
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no binaries in %s", dir)
	}
	return files, nil
}

// writeLayer writes the layer's tar: the base files, then files of dir at /, executable.
func writeLayer(w io.Writer, dir string, files []string) error {
	tw := tar.NewWriter(w)
	header := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatPAX}
	}
	for _, f := range baseFiles {
		typ := byte(tar.TypeReg)
		if strings.HasSuffix(f.name, "/") {
			typ = tar.TypeDir
		}
		if err := tw.WriteHeader(header(f.name, typ, f.mode, int64(len(f.data)))); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, f.data); err != nil {
			return err
		}
	}
	for _, name := range files {
		if err := copyInto(tw, filepath.Join(dir, name), header(name, tar.TypeReg, 0o755, 0)); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyInto(tw *tar.Writer, path string, h *tar.Header) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	h.Size = info.Size()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// platformsIn are the platforms of binaries' <os>_<arch> directories, in name order.
func platformsIn(binaries string) ([]v1.Platform, error) {
	entries, err := os.ReadDir(binaries)
	if err != nil {
		return nil, err
	}
	var out []v1.Platform
	for _, e := range entries {
		osName, arch, ok := strings.Cut(e.Name(), "_")
		if !e.IsDir() || !ok {
			return nil, fmt.Errorf("%s: want only <os>_<arch> directories, found %s", binaries, e.Name())
		}
		out = append(out, v1.Platform{OS: osName, Architecture: arch})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no <os>_<arch> directories in %s", binaries)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
