package crd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
)

// seedDefaults are the defaults the seed README's parameter table documents; every StorageOSCluster sample
// leaves them unset, so the API server must fill them in. The images are not among them: they resolve at run
// time (spec > RELATED_IMAGE_* > built-in), so that a default written into the spec cannot override the
// operator's pinned environment.
var seedDefaults = map[string]any{
	"namespace":              "storageos",
	"csi.deploymentStrategy": "statefulset",
	"service.name":           "storageos",
	"service.type":           "ClusterIP",
	"service.externalPort":   int64(5705),
	"service.internalPort":   int64(5705),
	"ingress.hostname":       "storageos.local",
	"sharedDir":              "/var/lib/kubelet/plugins/kubernetes.io~storageos",
	"kvBackend.backend":      "embedded",
	"storageClassName":       "fast",
}

func TestSeedSamplesAreAcceptedAndDefaulted(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join(testEnv.RootDir, "config", "samples", "*.yaml"))
	require.NoError(t, err)
	var checked int
	for _, path := range samples {
		if filepath.Base(path) == "kustomization.yaml" {
			continue
		}
		checked++
		t.Run(filepath.Base(path), func(t *testing.T) {
			ctx := context.Background()
			manifest, err := os.ReadFile(path)
			require.NoError(t, err)
			created, err := createYAML(ctx, testEnv.CreateNamespace(t), manifest)
			require.NoError(t, err, "the API server must accept the seed's sample")

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(created.GroupVersionKind())
			require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), stored))

			switch stored.GetKind() {
			case "StorageOSCluster":
				for field, want := range seedDefaults {
					got, found, err := unstructured.NestedFieldNoCopy(stored.Object, append([]string{"spec"}, strings.Split(field, ".")...)...)
					require.NoError(t, err)
					assert.True(t, found, "spec.%s must be defaulted", field)
					assert.Equal(t, want, got, "default of spec.%s", field)
				}
				_, found, _ := unstructured.NestedFieldNoCopy(stored.Object, "spec", "images", "nodeContainer")
				assert.False(t, found, "no image default is written into the spec")
				cluster := &storageosv1.StorageOSCluster{}
				require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), cluster))
				assert.Equal(t, "storageos-api", string(cluster.Spec.SecretRefName))
			case "StorageOSUpgrade":
				upgrade := &storageosv1.StorageOSUpgrade{}
				require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), upgrade))
				assert.Equal(t, storageosv1.ImageReference("storageos/node:1.0.0"), upgrade.Spec.NewImage)
			case "Job":
				job := &storageosv1.Job{}
				require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), job))
				assert.Equal(t, storageosv1.JobSpec{
					Image:             "darkowlzz/cleanup:v0.0.2",
					Args:              []string{"/var/lib/storageos"},
					MountPath:         "/var/lib",
					HostPath:          "/var/lib",
					CompletionWord:    "done",
					LabelSelector:     "daemonset-job=true",
					NodeSelectorTerms: job.Spec.NodeSelectorTerms,
				}, job.Spec)
				require.Len(t, job.Spec.NodeSelectorTerms, 1)
				require.Len(t, job.Spec.NodeSelectorTerms[0].MatchExpressions, 1)
				expr := job.Spec.NodeSelectorTerms[0].MatchExpressions[0]
				assert.Equal(t, "node-role.kubernetes.io/worker", expr.Key)
				assert.Equal(t, []string{"true"}, expr.Values)
			case "NFSServer":
				nfs := &storageosv1.NFSServer{}
				require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), nfs))
				assert.Equal(t, "1Gi", ptr.To(nfs.Spec.Resources.Requests[corev1.ResourceStorage].Quantity).String())
			case "Secret":
				assert.Equal(t, "storageos-api", stored.GetName())
			default:
				t.Fatalf("sample of unexpected kind %s", stored.GetKind())
			}
		})
	}
	// The seed README has seven YAML examples: three clusters (CSI, CSI credentials, TLS), the queried
	// cluster, the upgrade, the cleanup job and the API secret; the original operator's NFSServer example is the
	// eighth.
	assert.Equal(t, 8, checked, "every seed README example must be committed under config/samples")
}

func TestSampleClusterKeepsItsSettings(t *testing.T) {
	ctx := context.Background()
	manifest, err := os.ReadFile(filepath.Join(testEnv.RootDir, "config", "samples", "storageos_v1_storageoscluster_csi_credentials.yaml"))
	require.NoError(t, err)
	created, err := createYAML(ctx, testEnv.CreateNamespace(t), manifest)
	require.NoError(t, err)

	cluster := &storageosv1.StorageOSCluster{}
	require.NoError(t, testEnv.Client.Get(ctx, client.ObjectKeyFromObject(created), cluster))
	assert.Equal(t, storageosv1.StorageOSClusterCSI{
		Enable:                       true,
		EnableProvisionCreds:         true,
		EnableControllerPublishCreds: true,
		EnableNodePublishCreds:       true,
		DeploymentStrategy:           storageosv1.CSIDeploymentStrategyStatefulSet,
	}, cluster.Spec.CSI)
}
