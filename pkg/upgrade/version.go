package upgrade

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
)

// VersionWarnings says what is unusual about going from one node image to another: a downgrade, a change of
// major version, a tag that is not a version (so the direction cannot be told), another repository. They are
// warnings, never refusals: StorageOS's own upgrade notes decide what is supported, and the seed's sample
// (storageos/node:v2.1.0 to storageos/node:1.0.0) must keep working. Tags are compared as semantic versions where
// they parse ("v2.1.0", "2.2.0-rc.1"), else as dotted numbers ("2.1"). Deterministic: the same pair, the same
// warnings in the same order.
func VersionWarnings(from, to string) []string {
	if from == "" {
		return []string{"the node image the cluster runs is not known yet: the upgrade's direction cannot be told"}
	}
	if from == to {
		return []string{"the cluster already runs " + to + ": the upgrade would change nothing and will be refused"}
	}
	fromRepo, fromTag := splitImage(from)
	toRepo, toTag := splitImage(to)
	var out []string
	if fromRepo != toRepo {
		out = append(out, fmt.Sprintf("the new image's repository %s differs from the one the cluster runs, %s: "+
			"make sure it is a StorageOS node image", toRepo, fromRepo))
	}
	fromVersion, fromErr := parseTag(fromTag)
	toVersion, toErr := parseTag(toTag)
	for _, bad := range []struct {
		image, tag string
		err        error
	}{{from, fromTag, fromErr}, {to, toTag, toErr}} {
		switch {
		case bad.err != nil && bad.tag == "":
			out = append(out, fmt.Sprintf("%s is pinned by digest alone: whether this is an upgrade or a downgrade cannot be told", bad.image))
		case bad.err != nil:
			out = append(out, fmt.Sprintf("the tag of %s (%q) is not a version: whether this is an upgrade or a downgrade cannot be told", bad.image, bad.tag))
		}
	}
	if fromErr != nil || toErr != nil {
		return out
	}
	if fromRepo == toRepo && toVersion.EqualTo(fromVersion) {
		// Spelled differently ("v2.1.0" and "2.1.0", Docker Hub named or not), perhaps a rebuild: not refused,
		// but the user should know every node pod would be replaced for it.
		out = append(out, fmt.Sprintf("%s and %s are the same version: the upgrade would replace every node pod "+
			"with what may be the same StorageOS", from, to))
	}
	if toVersion.LessThan(fromVersion) {
		out = append(out, fmt.Sprintf("%s to %s is a downgrade: data written by %s may not be readable by %s; "+
			"make sure StorageOS supports going back", fromTag, toTag, fromTag, toTag))
	}
	if fromVersion.Major() != toVersion.Major() {
		out = append(out, fmt.Sprintf("%s to %s changes the major version (%d to %d): read StorageOS's notes for it first",
			fromTag, toTag, fromVersion.Major(), toVersion.Major()))
	}
	return out
}

// parseTag reads an image tag as a version: a semantic version if it is one, else dotted numbers.
func parseTag(tag string) (*version.Version, error) {
	if tag == "" {
		return nil, fmt.Errorf("no tag")
	}
	return version.Parse(tag)
}

// splitImage splits an image reference into its repository, normalised as container runtimes resolve it
// ("storageos/node" is "docker.io/storageos/node"), and its tag ("latest" when it names none and no digest;
// "" for a digest alone, which says nothing of a version).
func splitImage(image string) (repository, tag string) {
	name, _, hasDigest := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	} else if !hasDigest {
		tag = "latest"
	}
	return normaliseRepository(name), tag
}

// normaliseRepository adds what a runtime assumes: Docker Hub when the first component is not a registry (no
// dot, no port, not localhost), and its library/ for single names.
func normaliseRepository(name string) string {
	registry, path, found := strings.Cut(name, "/")
	if !found || (!strings.ContainsAny(registry, ".:") && registry != "localhost") {
		registry, path = "docker.io", name
	}
	if registry == "index.docker.io" {
		registry = "docker.io"
	}
	if registry == "docker.io" && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return registry + "/" + path
}
