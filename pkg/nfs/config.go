package nfs

import (
	"fmt"
	"strings"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// exportID identifies the one export on each server; Ganesha needs it unique per server only. The original used
// 57, so an adopted server keeps its export ID and its clients' file handles.
const exportID = 57

// Export is the export a server's configuration describes, with the original operator's defaults filled in.
type Export struct {
	// Ref names the export's path (/export/<ref>) and pseudo path (/<ref>): the exported claim's name.
	Ref string
	// Access is Ganesha's Access_Type: RW, RO or None.
	Access string
	// Squash is Ganesha's Squash: none, root, rootid or all.
	Squash string
}

// ExportOf is the export of an NFSServer as the original operator worked it out: the server's own claim (named
// after it) read-write without squashing; the claim named in persistentVolumeClaim instead when set; and the
// export section's access, squash and claim name (for the path) instead when export.name is set.
func ExportOf(nfs *storageosv1.NFSServer) Export {
	ref, access, squash := nfs.Name, "readwrite", "none"
	if claim := nfs.Spec.PersistentVolumeClaim.ClaimName; claim != "" {
		ref = claim
	}
	if e := nfs.Spec.Export; e.Name != "" {
		access, squash = e.Server.AccessMode, e.Server.Squash
		if e.PersistentVolumeClaim.ClaimName != "" {
			ref = e.PersistentVolumeClaim.ClaimName
		}
	}
	return Export{Ref: ref, Access: accessType(access), Squash: squashType(squash)}
}

// accessType maps the spec's access mode (any case, as the original accepted) to Ganesha's Access_Type.
func accessType(mode string) string {
	switch strings.ToLower(mode) {
	case "none":
		return "None"
	case "readonly":
		return "RO"
	default:
		return "RW"
	}
}

func squashType(squash string) string {
	if squash == "" {
		return "none"
	}
	return strings.ToLower(squash)
}

// GaneshaConfig is the NFS-Ganesha configuration of a server: NFSv4 only over TCP, graceless (a restarted server
// does not hold clients in a grace period: it is the only server of its export), file system IDs from the
// device, and the one export.
func GaneshaConfig(e Export) string {
	return fmt.Sprintf(`
NFSv4 {
	Graceless = true;
}
NFS_Core_Param {
	fsid_device = true;
}

LOG {
	default_log_level = EVENT;
	Components {
		ALL = EVENT;
	}
}

EXPORT {
	Export_Id = %d;
	Path = /export/%s;
	Pseudo = /%s;
	Protocols = 4;
	Transports = TCP;
	Sectype = sys;
	Access_Type = %s;
	Squash = %s;
	FSAL {
		Name = VFS;
	}
}
`, exportID, e.Ref, e.Ref, e.Access, e.Squash)
}
