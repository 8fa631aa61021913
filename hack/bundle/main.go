// Command bundle writes the OLM bundle (registry+v1) of package storageos in bundle/ from config/manifests: the
// CRDs, a ClusterServiceVersion built from the rendered Deployments, RBAC and webhook with the original
// operator's examples (examples/), the metadata and the scorecard configuration. It is deterministic: the same
// config, version and replaces give the same files.
//
//	cd hack/bundle && go run . -root ../.. -version 2.5.0 -replaces storageosoperator.v2.1.0 [-image storageos/cluster-operator:v2.5.0]
//	cd hack/bundle && go run . -root ../.. -catalog    # catalog/ and catalog.Dockerfile from bundle/
//
// It lives in its own module because operator-framework/api brings dependencies the operator does not need.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	root := flag.String("root", "../..", "The repository root.")
	catalog := flag.Bool("catalog", false, "Write catalog/ (the file-based catalog) from bundle/ instead of the bundle.")
	ver := flag.String("version", "", "The operator version (semver), e.g. 2.5.0.")
	image := flag.String("image", "", "The operator image (default storageos/cluster-operator:v<version>).")
	replaces := flag.String("replaces", "", "The CSV this release replaces, e.g. storageosoperator.v2.1.0 (the original operator's release this one continues).")
	flag.Parse()
	if *catalog {
		files, err := catalogFiles(*root)
		if err == nil {
			err = writeCatalog(*root, files)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *ver == "" {
		fmt.Fprintln(os.Stderr, "-version is required")
		os.Exit(2)
	}
	if *image == "" {
		*image = "storageos/cluster-operator:v" + *ver
	}
	files, err := Generate(*root, Release{Version: *ver, Image: *image, Replaces: *replaces})
	if err == nil {
		err = write(*root, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
