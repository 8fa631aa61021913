package desired

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Kubernetes major.minor.patch version.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses a GitVersion such as "v1.37.2" or "v1.30.4-eks-1234".
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("kubernetes version %q is not major.minor[.patch]", s)
	}
	var v Version
	var err error
	if v.Major, err = strconv.Atoi(parts[0]); err != nil {
		return Version{}, fmt.Errorf("kubernetes version %q: %w", s, err)
	}
	if v.Minor, err = strconv.Atoi(strings.TrimRight(parts[1], "+")); err != nil {
		return Version{}, fmt.Errorf("kubernetes version %q: %w", s, err)
	}
	if len(parts) == 3 {
		patch := parts[2]
		if i := strings.IndexAny(patch, "-+"); i >= 0 {
			patch = patch[:i]
		}
		v.Patch, _ = strconv.Atoi(patch)
	}
	return v, nil
}

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }
