package crd

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// indent indents every line of a YAML fragment so it nests under "spec:".
func indent(fragment string) string {
	lines := strings.Split(strings.TrimSpace(fragment), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// cluster is a StorageOSCluster with the two required fields and the given spec fields.
func cluster(spec string) string {
	return "apiVersion: storageos.com/v1\nkind: StorageOSCluster\nmetadata:\n  name: example\nspec:\n" +
		indent("secretRefName: storageos-api\nsecretRefNamespace: default\n"+spec) + "\n"
}

func upgrade(spec string) string {
	return "apiVersion: storageos.com/v1\nkind: StorageOSUpgrade\nmetadata:\n  name: example\nspec:\n" + indent(spec) + "\n"
}

const validJobSpec = "image: darkowlzz/cleanup:v0.0.2\nhostPath: /var/lib\nmountPath: /var/lib\ncompletionWord: done\n"

// job is a valid Job with the spec field named by the prefix of each edit removed, or replaced when the
// edit has a value ("mountPath: var/lib").
func job(edits ...string) string {
	spec := validJobSpec
	for _, edit := range edits {
		key := strings.SplitN(edit, ":", 2)[0] + ":"
		var kept []string
		for _, line := range strings.Split(strings.TrimSpace(spec), "\n") {
			if !strings.HasPrefix(line, key) {
				kept = append(kept, line)
			}
		}
		if strings.TrimSpace(strings.TrimPrefix(edit, key)) != "" {
			kept = append(kept, edit)
		}
		spec = strings.Join(kept, "\n")
	}
	return "apiVersion: storageos.com/v1\nkind: Job\nmetadata:\n  name: example\nspec:\n" + indent(spec) + "\n"
}

// nfsServer is an NFSServer with the given spec fields.
func nfsServer(spec string) string {
	return "apiVersion: storageos.com/v1\nkind: NFSServer\nmetadata:\n  name: example\nspec:\n" + indent(spec) + "\n"
}

// named gives a manifest of one of the helpers above another metadata.name.
func named(name, manifest string) string {
	return strings.Replace(manifest, "name: example", "name: "+name, 1)
}

// nameOf is a valid name of exactly n characters.
func nameOf(n int) string { return "n" + strings.Repeat("a", n-1) }

func TestInvalidObjectsAreRejectedNamingTheField(t *testing.T) {
	cases := []struct {
		name     string
		manifest string
		field    string // the field path the API server's error must name
		message  string // what it must say about it
	}{
		{"disableTCMU and forceTCMU both true", cluster("disableTCMU: true\nforceTCMU: true"),
			"spec.forceTCMU", "disableTCMU and forceTCMU cannot both be true"},
		{"csi.deploymentStrategy not statefulset or deployment", cluster("csi:\n  deploymentStrategy: daemonset"),
			"spec.csi.deploymentStrategy", `supported values: "statefulset", "deployment"`},
		{"service.type not a Service type", cluster("service:\n  type: Internal"),
			"spec.service.type", `supported values: "ClusterIP", "NodePort", "LoadBalancer"`},
		{"service.externalPort below 1", cluster("service:\n  externalPort: 0"),
			"spec.service.externalPort", "greater than or equal to 1"},
		{"service.internalPort above 65535", cluster("service:\n  internalPort: 65536"),
			"spec.service.internalPort", "less than or equal to 65535"},
		{"service.name not a DNS label", cluster("service:\n  name: 5705-api"),
			"spec.service.name", "should match"},
		{"kvBackend.backend not embedded or etcd", cluster("kvBackend:\n  backend: consul"),
			"spec.kvBackend.backend", `supported values: "embedded", "etcd"`},
		{"kvBackend etcd without address", cluster("kvBackend:\n  backend: etcd"),
			"spec.kvBackend.address", "kvBackend.address is required when kvBackend.backend is etcd"},
		{"kvBackend.address without a port", cluster("kvBackend:\n  backend: etcd\n  address: 10.0.0.1"),
			"spec.kvBackend.address", "comma-separated list of host:port addresses"},
		{"kvBackend.address with port 0", cluster("kvBackend:\n  backend: etcd\n  address: 10.0.0.1:2379,10.0.0.2:0"),
			"spec.kvBackend.address", "ports 1-65535"},
		{"kvBackend.address with port 70000", cluster("kvBackend:\n  backend: etcd\n  address: etcd:70000"),
			"spec.kvBackend.address", "ports 1-65535"},
		{"kvBackend.address separated by spaces", cluster("kvBackend:\n  backend: etcd\n  address: 10.0.0.1:2379 10.0.0.2:2379"),
			"spec.kvBackend.address", "comma-separated list of host:port addresses"},
		{"ingress.tls without ingress.enable", cluster("ingress:\n  tls: true"),
			"spec.ingress.tls", "ingress.tls requires ingress.enable: true"},
		{"ingress.hostname not a hostname", cluster("ingress:\n  enable: true\n  hostname: storage os"),
			"spec.ingress.hostname", "should match"},
		{"missing secretRefName", strings.Replace(cluster(""), "  secretRefName: storageos-api\n", "", 1),
			"spec.secretRefName", "Required value"},
		{"missing secretRefNamespace", strings.Replace(cluster(""), "  secretRefNamespace: default\n", "", 1),
			"spec.secretRefNamespace", "Required value"},
		{"secretRefNamespace not a namespace name", strings.Replace(cluster(""), "secretRefNamespace: default", "secretRefNamespace: Default_NS", 1),
			"spec.secretRefNamespace", "should match"},
		{"csi.enableProvisionCreds while csi.enable is false", cluster("csi:\n  enableProvisionCreds: true"),
			"spec.csi.enableProvisionCreds", "csi.enableProvisionCreds requires csi.enable: true"},
		{"csi.enableControllerPublishCreds while csi.enable is false", cluster("csi:\n  enable: false\n  enableControllerPublishCreds: true"),
			"spec.csi.enableControllerPublishCreds", "csi.enableControllerPublishCreds requires csi.enable: true"},
		{"csi.enableNodePublishCreds while csi.enable is false", cluster("csi:\n  enableNodePublishCreds: true"),
			"spec.csi.enableNodePublishCreds", "csi.enableNodePublishCreds requires csi.enable: true"},
		{"csi.enableControllerExpandCreds while csi.enable is false", cluster("csi:\n  enableControllerExpandCreds: true"),
			"spec.csi.enableControllerExpandCreds", "csi.enableControllerExpandCreds requires csi.enable: true"},
		{"images.nodeContainer not an image reference", cluster("images:\n  nodeContainer: StorageOS/Node::latest"),
			"spec.images.nodeContainer", "must be a container image reference"},
		{"images.csiExternalProvisionerContainer with spaces", cluster("images:\n  csiExternalProvisionerContainer: quay.io/k8scsi/csi provisioner"),
			"spec.images.csiExternalProvisionerContainer", "must be a container image reference"},
		{"sharedDir relative", cluster("sharedDir: var/lib/kubelet"),
			"spec.sharedDir", "must be an absolute path"},
		// sharedDir is mounted read-write, with bidirectional propagation, into the privileged node container.
		{"sharedDir the host's root", cluster("sharedDir: /"), "spec.sharedDir", "sharedDir must be a directory below /var/lib/kubelet/plugins/, /var/lib/storageos/ or /mnt/"},
		{"sharedDir /sys", cluster("sharedDir: /sys"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir /dev", cluster("sharedDir: /dev"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir under /etc", cluster("sharedDir: /etc/storageos"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir the kubelet's own directory", cluster("sharedDir: /var/lib/kubelet"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir the kubelet's pods", cluster("sharedDir: /var/lib/kubelet/pods"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir the plugins directory itself", cluster("sharedDir: /var/lib/kubelet/plugins"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir a trailing slash on an allowed root", cluster("sharedDir: /mnt/"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir a prefix of an allowed root", cluster("sharedDir: /var/lib/storageos-shared"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir a doubled slash", cluster("sharedDir: /var/lib/storageos//shared"), "spec.sharedDir", "sharedDir must be a directory below"},
		{"sharedDir climbing out with ..", cluster("sharedDir: /var/lib/kubelet/plugins/../../../etc"), "spec.sharedDir", "sharedDir must not contain . or .. path elements"},
		{"sharedDir ending in ..", cluster("sharedDir: /mnt/storageos/.."), "spec.sharedDir", "sharedDir must not contain . or .. path elements"},
		{"sharedDir with a . element", cluster("sharedDir: /mnt/./storageos"), "spec.sharedDir", "sharedDir must not contain . or .. path elements"},
		// Names longer than the children's labels (and, for NFS servers, Services) can carry.
		{"cluster name of 64 characters", named(nameOf(64), cluster("")), "metadata",
			"metadata.name must be at most 63 characters: every object of the cluster carries it in its app.kubernetes.io/instance label"},
		{"upgrade name of 64 characters", named(nameOf(64), upgrade("newImage: storageos/node:v2.2.0")), "metadata",
			"metadata.name must be at most 63 characters"},
		{"job name of 64 characters", named(nameOf(64), job()), "metadata",
			"metadata.name must be at most 63 characters: the Job's DaemonSet and pods carry it in their storageos.com/job label"},
		{"nfs name of 53 characters", named(nameOf(53), nfsServer("{}")), "metadata",
			"metadata.name must be at most 52 characters: the NFS server's StatefulSet pods carry it"},
		{"nfs name with a dot", named("share.example", nfsServer("{}")), "metadata",
			"metadata.name must start with a lowercase letter and hold only lowercase letters, digits and '-' (a DNS-1035 label)"},
		{"nfs name starting with a digit", named("1share", nfsServer("{}")), "metadata",
			"the NFS server's Services are named after it"},
		{"tlsEtcdSecretRefName without its namespace", cluster("kvBackend:\n  backend: etcd\n  address: 10.0.0.1:2379\ntlsEtcdSecretRefName: etcd-tls"),
			"spec.tlsEtcdSecretRefName", "tlsEtcdSecretRefName and tlsEtcdSecretRefNamespace must be set together"},
		{"tlsEtcdSecretRefName with the embedded backend", cluster("tlsEtcdSecretRefName: etcd-tls\ntlsEtcdSecretRefNamespace: default"),
			"spec.tlsEtcdSecretRefName", "requires kvBackend.backend: etcd"},
		{"storageClassName not a DNS subdomain", cluster("storageClassName: Fast"),
			"spec.storageClassName", "should match"},
		{"namespace not a namespace name", cluster("namespace: storage_os"),
			"spec.namespace", "should match"},
		{"upgrade without newImage", upgrade("{}"),
			"spec.newImage", "Required value"},
		{"upgrade with a malformed newImage", upgrade("newImage: storageos/node:v2.1.0:v2.2.0"),
			"spec.newImage", "must be a container image reference"},
		{"upgrade with an uppercase newImage", upgrade("newImage: StorageOS/node:v2.2.0"),
			"spec.newImage", "must be a container image reference"},
		{"job without image", job("image:"), "spec.image", "Required value"},
		{"job without completionWord", job("completionWord:"), "spec.completionWord", "Required value"},
		{"job with an empty completionWord", job(`completionWord: ""`), "spec.completionWord", "at least 1 chars long"},
		{"job without hostPath", job("hostPath:"), "spec", "hostPath and mountPath must be set together"},
		{"job without mountPath", job("mountPath:"), "spec", "hostPath and mountPath must be set together"},
		{"job with a relative mountPath", job("mountPath: var/lib"), "spec.mountPath", "must be an absolute path"},
		{"job with a relative hostPath", job("hostPath: ./var/lib"), "spec.hostPath", "must be an absolute path"},
		{"job with a malformed image", job("image: cleanup@latest"), "spec.image", "must be a container image reference"},
		{"job with a labelSelector key that is not a label key", job("labelSelector: 'bad key=cleanup'"),
			"spec.labelSelector", "labelSelector must be key=value pairs separated by commas"},
		{"job with a labelSelector value that is not a label value", job("labelSelector: 'app=clean up'"),
			"spec.labelSelector", "labelSelector must be key=value pairs separated by commas"},
		{"job with a labelSelector that is a map, not the original's string", job("labelSelector: {app: cleanup}"),
			"spec.labelSelector", "must be of type string"},
		{"job whose pods would carry the operator's job label", job("labelSelector: 'storageos.com/job=other'"),
			"spec.labelSelector", "labelSelector may not use the operator's labels"},
		{"job whose pods would claim to be the operator's", job("labelSelector: 'app.kubernetes.io/managed-by = storageos-cluster-manager'"),
			"spec.labelSelector", "labelSelector may not use the operator's labels"},
		{"job whose pods would be selected by the StorageOS API Service", job("labelSelector: 'kind=daemonset, app = storageos'"),
			"spec.labelSelector", "the StorageOS API Service's among them"},
		{"nfs export access mode not ReadWrite, ReadOnly or None", nfsServer("export:\n  name: share\n  server:\n    accessMode: Write"),
			"spec.export.server.accessMode", "export.server.accessMode must be ReadWrite, ReadOnly or None"},
		{"nfs export squash not a Ganesha squash", nfsServer("export:\n  name: share\n  server:\n    squash: rootuid"),
			"spec.export.server.squash", "export.server.squash must be none, root, rootid or all"},
		{"nfs reclaim policy Recycle", nfsServer("persistentVolumeReclaimPolicy: Recycle"),
			"spec.persistentVolumeReclaimPolicy", `supported values: "Delete", "Retain"`},
		{"nfs toleration Exists with a value", nfsServer("tolerations:\n- key: dedicated\n  operator: Exists\n  value: storage"),
			"spec.tolerations", "a toleration with operator Exists must not have a value"},
		{"nfs toleration with an unknown operator", nfsServer("tolerations:\n- key: dedicated\n  operator: In\n  value: storage"),
			"spec.tolerations", "operator must be Exists or Equal"},
		{"nfs toleration with an unknown effect", nfsServer("tolerations:\n- key: dedicated\n  value: storage\n  effect: NoRun"),
			"spec.tolerations", "effect must be NoSchedule, PreferNoSchedule or NoExecute"},
		{"nfs toleration without key that is not Exists", nfsServer("tolerations:\n- value: storage"),
			"spec.tolerations", "a toleration without a key must have operator Exists"},
		{"nfs capacity zero", nfsServer("resources:\n  requests:\n    storage: '0'"),
			"spec.resources.requests.storage", "should match"},
		{"nfs capacity negative", nfsServer("resources:\n  requests:\n    storage: -1Gi"),
			"spec.resources.requests.storage", "should match"},
		{"nfs capacity zero as a number", nfsServer("resources:\n  requests:\n    storage: 0"),
			"spec.resources.requests[storage]", "must be greater than zero"},
		{"nfs capacity not a quantity", nfsServer("resources:\n  requests:\n    storage: lots"),
			"spec.resources.requests.storage", "should match"},
		{"nfs image not an image reference", nfsServer("nfsContainer: StorageOS/NFS"),
			"spec.nfsContainer", "must be a container image reference"},
	}
	require.GreaterOrEqual(t, len(cases), 20)

	ns := testEnv.CreateNamespace(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := createYAML(context.Background(), ns, []byte(tc.manifest))
			require.Error(t, err, "the API server accepted:\n%s", tc.manifest)
			assert.True(t, apierrors.IsInvalid(err), "want an Invalid error, got %v", err)
			assert.Contains(t, err.Error(), tc.field+":", "the error must name the field")
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

// The rules must not reject what users legitimately write.
func TestValidEdgeCasesAreAccepted(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	cases := map[string]string{
		"external etcd with hostnames, schemes and IPv6": cluster("kvBackend:\n  backend: etcd\n  address: 10.0.0.1:2379,https://etcd-0.etcd.svc:2379,http://[fd00::1]:65535"),
		"etcd TLS secret with the etcd backend":          cluster("kvBackend:\n  backend: etcd\n  address: etcd:2379\ntlsEtcdSecretRefName: etcd-tls\ntlsEtcdSecretRefNamespace: storageos"),
		"every CSI credential with csi.enable":           cluster("csi:\n  enable: true\n  deploymentStrategy: deployment\n  enableProvisionCreds: true\n  enableControllerPublishCreds: true\n  enableNodePublishCreds: true\n  enableControllerExpandCreds: true"),
		"TLS ingress with a wildcard host":               cluster("ingress:\n  enable: true\n  tls: true\n  hostname: '*.storageos.example.com'"),
		"images from a private registry":                 cluster("images:\n  nodeContainer: registry.example.com:5000/storageos/node:v2.2.0\n  initContainer: registry.example.com/storageos/init@" + digest + "\n  kubeSchedulerContainer: registry.k8s.io/kube-scheduler:v1.37.2\n  csiLivenessProbeContainer: localhost:5000/livenessprobe:v2"),
		"NodePort service":                               cluster("service:\n  type: NodePort\n  externalPort: 65535\n  internalPort: 1"),
		"disableTCMU alone":                              cluster("disableTCMU: true\nforceTCMU: false"),
		"upgrade to an image by digest":                  upgrade("newImage: storageos/node@" + digest),
		"job with every field": job("args: [\"/var/lib/storageos\"]", "labelSelector: 'app=cleanup, example.com/task=clean-up_1.0'",
			"tolerations: [{operator: Exists}]"),
		"the original's NFSServer example, every commented field filled in": nfsServer("nfsContainer: storageos/nfs:1.0.0\nstorageClassName: fast\npersistentVolumeClaim:\n  claimName: pv1\n  readOnly: false\npersistentVolumeReclaimPolicy: Delete\nresources:\n  requests:\n    storage: 1Gi"),
		"an NFSServer export in the original's lowercase":                   nfsServer("export:\n  name: share\n  server:\n    accessMode: readonly\n    squash: RootId\n  persistentVolumeClaim:\n    claimName: data\ntolerations:\n- operator: Exists\n- key: dedicated\n  value: storage\n  effect: NoSchedule\nannotations:\n  backup: daily\nmountOptions: [noatime]"),
		"job without a host directory, with a command":                      job("hostPath:", "mountPath:", "command: [/bin/sh, -c, 'echo done; sleep 3600']"),
		// sharedDir: the seed's default, written out as the original's example writes it, and the other roots.
		"sharedDir the seed's default":           cluster("sharedDir: /var/lib/kubelet/plugins/kubernetes.io~storageos"),
		"sharedDir below /var/lib/storageos":     cluster("sharedDir: /var/lib/storageos/shared"),
		"sharedDir below /mnt, with a dot in it": cluster("sharedDir: /mnt/storage.os/..shared/.kubelet"),
		// Names exactly at each kind's limit, and the NFSServer StorageOS creates for a ReadWriteMany claim.
		"cluster name of 63 characters":             named(nameOf(63), cluster("")),
		"upgrade name of 63 characters":             named(nameOf(63), upgrade("newImage: storageos/node:v2.2.0")),
		"job name of 63 characters":                 named(nameOf(63), job()),
		"job name that is a DNS subdomain":          named("clean-up.v2", job()),
		"nfs name of 52 characters":                 named(nameOf(52), nfsServer("{}")),
		"nfs name StorageOS gives a claim's server": named("pvc-0b5a1c9e-7d3f-4e2a-9c1b-5f6e7d8c9a0b", nfsServer("{}")),
	}
	ns := testEnv.CreateNamespace(t)
	i := 0
	for name, manifest := range cases {
		i++
		manifest := strings.Replace(manifest, "name: example", fmt.Sprintf("name: valid-%d", i), 1)
		t.Run(name, func(t *testing.T) {
			_, err := createYAML(context.Background(), ns, []byte(manifest))
			assert.NoError(t, err, "the API server must accept:\n%s", manifest)
		})
	}
}

func TestImmutableFieldsRejectChanges(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)

	up := newUpgrade(ns, "upgrade", "storageos/node:v2.2.0")
	require.NoError(t, testEnv.Client.Create(ctx, up))
	up.Spec.NewImage = "storageos/node:v2.3.0"
	err := testEnv.Client.Update(ctx, up)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.newImage:")
	assert.Contains(t, err.Error(), "newImage is immutable")

	c := newCluster(ns, "cluster")
	require.NoError(t, testEnv.Client.Create(ctx, c))
	assert.Equal(t, storageosv1.NamespaceName("storageos"), c.Spec.Namespace, "the default is returned on create")
	c.Spec.Namespace = "storageos-moved"
	err = testEnv.Client.Update(ctx, c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.namespace:")
	assert.Contains(t, err.Error(), "namespace is immutable")

	// Other fields stay editable: the rule guards the namespace only.
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(c), c))
	c.Spec.Debug = true
	assert.NoError(t, testEnv.Client.Update(ctx, c))
}

// An NFS server exports one volume for its whole life: neither the claim it names nor the class of the claim it
// created can change, but the class may be set once (the operator pins the cluster's).
func TestNFSServerVolumeCannotChange(t *testing.T) {
	ctx := context.Background()
	ns := testEnv.CreateNamespace(t)
	nfs := &storageosv1.NFSServer{}
	nfs.Name, nfs.Namespace = "share", ns
	require.NoError(t, testEnv.Client.Create(ctx, nfs))

	nfs.Spec.StorageClassName = "fast"
	require.NoError(t, testEnv.Client.Update(ctx, nfs), "an empty class may be set")
	nfs.Spec.StorageClassName = "slow"
	err := testEnv.Client.Update(ctx, nfs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.storageClassName:")
	assert.Contains(t, err.Error(), "storageClassName cannot change")

	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(nfs), nfs))
	nfs.Spec.PersistentVolumeClaim.ClaimName = "other"
	err = testEnv.Client.Update(ctx, nfs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.persistentVolumeClaim:")
	assert.Contains(t, err.Error(), "persistentVolumeClaim.claimName cannot change")

	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(nfs), nfs))
	nfs.Spec.MountOptions = []string{"noatime"}
	assert.NoError(t, testEnv.Client.Update(ctx, nfs), "other fields stay editable")
}
