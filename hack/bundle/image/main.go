// Command image assembles the operator image without Docker (make dev-image, make operator-image): the binaries
// `go build` wrote, in one layer at / as the Dockerfile's image has them, run as USER 65532:65532, written as an
// OCI image layout that any OCI tool pushes or loads (`crane push bin/image/oci <ref>`,
// `skopeo copy oci:bin/image/oci docker://<ref>`).
//
//	cd hack/bundle && go run ./image -binaries ../../bin/image/bin -ref storageos/cluster-operator:latest -out ../../bin/image/oci
//
// -binaries holds one directory per platform, named <os>_<arch> (linux_amd64), with the binaries. One platform
// gives an image, several an image index. The layer also carries the little the Dockerfile's distroless base
// gives the binaries: /etc/passwd and /etc/group naming the nonroot user, and /tmp. The build is reproducible:
// every file is dated 1970 and owned by root, so the same binaries give the same digest.
//
// It lives in hack/bundle's module, with the other release tooling, so the operator's go.mod does not carry
// go-containerregistry.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	binaries := flag.String("binaries", "", "Directory with one <os>_<arch> directory of binaries per platform.")
	ref := flag.String("ref", "storageos/cluster-operator:latest", "The image's name, recorded in the layout's index.")
	ver := flag.String("version", "", "The operator version, for the image's org.opencontainers.image.version label.")
	out := flag.String("out", "", "The OCI image layout to write (replaced).")
	flag.Parse()
	if *binaries == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "-binaries and -out are required")
		os.Exit(2)
	}
	tag, err := name.NewTag(*ref)
	var digest v1.Hash
	if err == nil {
		digest, err = Write(*out, tag, *binaries, *ver)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image: %s@%s in %s\n", tag, digest, *out)
}
