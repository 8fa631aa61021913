package nfs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/names"
)

// fixtureServer is an NFSServer "shared" in namespace "apps" with nothing set in its spec, edited by mutate.
func fixtureServer(mutate func(*storageosv1.NFSServer)) *storageosv1.NFSServer {
	s := &storageosv1.NFSServer{ObjectMeta: metav1.ObjectMeta{
		Name: "shared", Namespace: "apps", UID: "3f0c7b1e-0000-4000-8000-000000000001", Generation: 4,
	}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

// fixtureCluster is the active StorageOSCluster as the NFS controller sees it: its class "fast", nothing else set.
func fixtureCluster(mutate func(*storageosv1.StorageOSCluster)) *storageosv1.StorageOSCluster {
	c := &storageosv1.StorageOSCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "storageos", Namespace: "storageos"},
		Spec:       storageosv1.StorageOSClusterSpec{StorageClassName: "fast"},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

// noEnv is an environment without RELATED_IMAGE_NFS.
func noEnv(string) string { return "" }

func envWith(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func storageRequest(q string) storageosv1.NFSServerResources {
	return storageosv1.NFSServerResources{Requests: map[corev1.ResourceName]storageosv1.Quantity{
		corev1.ResourceStorage: {Quantity: resource.MustParse(q)},
	}}
}

// configLines are the lines of a Ganesha configuration without their indentation, to compare whole settings.
func configLines(config string) []string {
	var out []string
	for _, l := range strings.Split(config, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestExportOfAndGaneshaConfig(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*storageosv1.NFSServer)
		want   Export
	}{
		{
			name: "defaults export the server's own claim read-write without squashing",
			want: Export{Ref: "shared", Access: "RW", Squash: "none"},
		},
		{
			name: "a named claim is the export's path",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeClaim.ClaimName = "existing"
			},
			want: Export{Ref: "existing", Access: "RW", Squash: "none"},
		},
		{
			name: "export.name takes the export's access, squash and claim (lower case)",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server:                storageosv1.ServerSpec{AccessMode: "readonly", Squash: "root"},
					PersistentVolumeClaim: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exported"}}
			},
			want: Export{Ref: "exported", Access: "RO", Squash: "root"},
		},
		{
			name: "export access and squash are case-insensitive: ReadOnly, RootId",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server:                storageosv1.ServerSpec{AccessMode: "ReadOnly", Squash: "RootId"},
					PersistentVolumeClaim: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exported"}}
			},
			want: Export{Ref: "exported", Access: "RO", Squash: "rootid"},
		},
		{
			name: "export access and squash are case-insensitive: NONE, ALL",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server:                storageosv1.ServerSpec{AccessMode: "NONE", Squash: "ALL"},
					PersistentVolumeClaim: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exported"}}
			},
			want: Export{Ref: "exported", Access: "None", Squash: "all"},
		},
		{
			name: "export ReadWrite with no squash is RW, none",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server: storageosv1.ServerSpec{AccessMode: "ReadWrite"}}
			},
			want: Export{Ref: "shared", Access: "RW", Squash: "none"},
		},
		{
			// Unlike the original (which exported /export/ then), the default ref stays: the server's own claim.
			name: "export.name without a claim keeps the server's own claim as ref",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server: storageosv1.ServerSpec{AccessMode: "readonly", Squash: "all"}}
			},
			want: Export{Ref: "shared", Access: "RO", Squash: "all"},
		},
		{
			name: "export.name without a claim keeps the named claim as ref",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeClaim.ClaimName = "existing"
				s.Spec.Export = storageosv1.ExportSpec{Name: "data",
					Server: storageosv1.ServerSpec{AccessMode: "none"}}
			},
			want: Export{Ref: "existing", Access: "None", Squash: "none"},
		},
		{
			// The export section is only read when it is named, as in the original.
			name: "export settings without export.name are ignored",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.Export = storageosv1.ExportSpec{
					Server:                storageosv1.ServerSpec{AccessMode: "readonly", Squash: "all"},
					PersistentVolumeClaim: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exported"}}
			},
			want: Export{Ref: "shared", Access: "RW", Squash: "none"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ExportOf(fixtureServer(tc.mutate))
			assert.Equal(t, tc.want, got)

			lines := configLines(GaneshaConfig(got))
			for _, want := range []string{
				"Export_Id = 57;",
				"Path = /export/" + tc.want.Ref + ";",
				"Pseudo = /" + tc.want.Ref + ";",
				"Protocols = 4;",
				"Transports = TCP;",
				"Sectype = sys;",
				"Access_Type = " + tc.want.Access + ";",
				"Squash = " + tc.want.Squash + ";",
				"Graceless = true;",
				"fsid_device = true;",
			} {
				assert.Contains(t, lines, want)
			}
			// One export, one Access_Type: a second would be a configuration Ganesha rejects or misreads.
			assert.Equal(t, 1, strings.Count(GaneshaConfig(got), "EXPORT {"))
			assert.Equal(t, 1, strings.Count(GaneshaConfig(got), "Access_Type"))
		})
	}
}

func TestImagePrecedence(t *testing.T) {
	env := envWith(map[string]string{"RELATED_IMAGE_NFS": "registry.example.com/nfs:env"})
	cases := []struct {
		name    string
		server  storageosv1.ImageReference
		cluster storageosv1.ImageReference
		getenv  func(string) string
		want    string
	}{
		{"the server's nfsContainer wins over everything", "registry.example.com/nfs:server",
			"registry.example.com/nfs:cluster", env, "registry.example.com/nfs:server"},
		{"the cluster's images.nfsContainer wins over the environment", "",
			"registry.example.com/nfs:cluster", env, "registry.example.com/nfs:cluster"},
		{"RELATED_IMAGE_NFS when neither names one", "", "", env, "registry.example.com/nfs:env"},
		{"the built-in default without any", "", "", noEnv, "storageos/nfs:1.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{
				Server:  fixtureServer(func(s *storageosv1.NFSServer) { s.Spec.NFSContainer = tc.server }),
				Cluster: fixtureCluster(func(c *storageosv1.StorageOSCluster) { c.Spec.Images.NFSContainer = tc.cluster }),
				Getenv:  tc.getenv,
			}
			assert.Equal(t, tc.want, Image(in))
			// The StatefulSet runs that image.
			assert.Equal(t, tc.want, findStatefulSet(t, Objects(in)).Spec.Template.Spec.Containers[0].Image)
		})
	}
}

func TestStorageClassName(t *testing.T) {
	cluster := fixtureCluster(nil)
	assert.Equal(t, "fast", StorageClassName(fixtureServer(nil), cluster), "the cluster's class when the server names none")
	assert.Equal(t, "slow", StorageClassName(fixtureServer(func(s *storageosv1.NFSServer) {
		s.Spec.StorageClassName = "slow"
	}), cluster), "the server's class over the cluster's")
}

func TestCapacity(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*storageosv1.NFSServer)
		want   string
	}{
		{"default 1Gi", nil, "1Gi"},
		{"requests.storage", func(s *storageosv1.NFSServer) { s.Spec.Resources = storageRequest("5Gi") }, "5Gi"},
		{"limits alone have no effect", func(s *storageosv1.NFSServer) {
			s.Spec.Resources.Limits = map[corev1.ResourceName]storageosv1.Quantity{
				corev1.ResourceStorage: {Quantity: resource.MustParse("9Gi")}}
		}, "1Gi"},
		{"other requests have no effect", func(s *storageosv1.NFSServer) {
			s.Spec.Resources.Requests = map[corev1.ResourceName]storageosv1.Quantity{
				corev1.ResourceMemory: {Quantity: resource.MustParse("9Gi")}}
		}, "1Gi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Capacity(fixtureServer(tc.mutate))
			want := resource.MustParse(tc.want)
			assert.Zero(t, want.Cmp(got), "want %s, got %s", tc.want, got.String())
		})
	}
}

func TestOwnsClaimAndClaimName(t *testing.T) {
	own := fixtureServer(nil)
	assert.True(t, OwnsClaim(own))
	assert.Equal(t, "shared", ClaimName(own), "the operator's claim is named after the server")

	named := fixtureServer(func(s *storageosv1.NFSServer) { s.Spec.PersistentVolumeClaim.ClaimName = "existing" })
	assert.False(t, OwnsClaim(named))
	assert.Equal(t, "existing", ClaimName(named))

	// The export's claim only names the export's path: the server still mounts (and so owns) its own claim.
	exportClaim := fixtureServer(func(s *storageosv1.NFSServer) {
		s.Spec.Export = storageosv1.ExportSpec{Name: "data",
			PersistentVolumeClaim: corev1.PersistentVolumeClaimVolumeSource{ClaimName: "exported"}}
	})
	assert.True(t, OwnsClaim(exportClaim))
	assert.Equal(t, "shared", ClaimName(exportClaim))
}

// kindOf names the kind of a desired object: typed objects are built without their TypeMeta.
func kindOf(t *testing.T, obj client.Object) string {
	t.Helper()
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *corev1.Service:
		return "Service"
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.PersistentVolumeClaim:
		return "PersistentVolumeClaim"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *unstructured.Unstructured:
		return o.GetKind()
	}
	t.Fatalf("unexpected object type %T", obj)
	return ""
}

func kindNames(t *testing.T, objs []client.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = kindOf(t, o) + "/" + o.GetName()
	}
	return out
}

func findObject[T client.Object](t *testing.T, objs []client.Object, name string) T {
	t.Helper()
	for _, o := range objs {
		if typed, ok := o.(T); ok && o.GetName() == name {
			return typed
		}
	}
	var zero T
	t.Fatalf("no %T named %s in %v", zero, name, kindNames(t, objs))
	return zero
}

func findStatefulSet(t *testing.T, objs []client.Object) *appsv1.StatefulSet {
	t.Helper()
	var found *appsv1.StatefulSet
	for _, o := range objs {
		if s, ok := o.(*appsv1.StatefulSet); ok {
			require.Nil(t, found, "more than one StatefulSet")
			found = s
		}
	}
	require.NotNil(t, found, "no StatefulSet")
	return found
}

// checkCommon checks what every server's objects share, whatever the input.
func checkCommon(t *testing.T, in Input, objs []client.Object) {
	t.Helper()
	nfs := in.Server
	wantOwner := metav1.OwnerReference{APIVersion: "storageos.com/v1", Kind: "NFSServer", Name: nfs.Name, UID: nfs.UID}
	for _, o := range objs {
		what := kindOf(t, o) + "/" + o.GetName()
		labels := o.GetLabels()
		assert.Equal(t, nfs.Name, labels[LabelServer], "%s: server label", what)
		assert.Equal(t, "storageos", labels[names.LabelApp], "%s: app label", what)
		assert.Equal(t, "storageos", labels[names.LabelInstance], "%s: instance is the cluster", what)
		switch kindOf(t, o) {
		case "PersistentVolumeClaim":
			// The reclaim policy decides the claim's fate, not Kubernetes' garbage collector.
			assert.Equal(t, nfs.Namespace, o.GetNamespace(), what)
			assert.Empty(t, o.GetOwnerReferences(), what)
		default:
			assert.Equal(t, nfs.Namespace, o.GetNamespace(), what)
			refs := o.GetOwnerReferences()
			if assert.Len(t, refs, 1, what) {
				ref := refs[0]
				assert.Equal(t, wantOwner.APIVersion, ref.APIVersion, what)
				assert.Equal(t, wantOwner.Kind, ref.Kind, what)
				assert.Equal(t, wantOwner.Name, ref.Name, what)
				assert.Equal(t, wantOwner.UID, ref.UID, what)
				assert.True(t, ref.Controller != nil && *ref.Controller, "%s: controller owner reference", what)
			}
		}
	}

	nfsSvc := findObject[*corev1.Service](t, objs, nfs.Name)
	metricsSvc := findObject[*corev1.Service](t, objs, nfs.Name+"-metrics")
	for _, tc := range []struct {
		svc  *corev1.Service
		name string
		port int32
	}{{nfsSvc, "nfs", 2049}, {metricsSvc, "metrics", 80}} {
		assert.Equal(t, corev1.ServiceTypeClusterIP, tc.svc.Spec.Type, tc.svc.Name)
		assert.Equal(t, PodSelector(nfs), tc.svc.Spec.Selector, "%s selects the server pod", tc.svc.Name)
		assert.Equal(t, []corev1.ServicePort{{Name: tc.name, Port: tc.port, TargetPort: intstr.FromInt32(tc.port),
			Protocol: corev1.ProtocolTCP}}, tc.svc.Spec.Ports, tc.svc.Name)
	}

	cm := findObject[*corev1.ConfigMap](t, objs, nfs.Name)
	assert.Equal(t, map[string]string{nfs.Name: GaneshaConfig(ExportOf(nfs))}, cm.Data)

	sts := findStatefulSet(t, objs)
	assert.Equal(t, nfs.Name, sts.Name)
	require.NotNil(t, sts.Spec.Replicas)
	assert.Equal(t, int32(1), *sts.Spec.Replicas)
	assert.Equal(t, nfs.Name, sts.Spec.ServiceName)
	require.NotNil(t, sts.Spec.Selector)
	assert.Equal(t, PodSelector(nfs), sts.Spec.Selector.MatchLabels)
	tmpl := sts.Spec.Template
	for k, v := range PodSelector(nfs) {
		assert.Equal(t, v, tmpl.Labels[k], "the pod template carries selector label %s", k)
	}
	assert.Equal(t, "storageos-nfs-"+nfs.Name, tmpl.Spec.ServiceAccountName)
	assert.NotEmpty(t, tmpl.Annotations[AnnotationConfigHash])

	require.Len(t, tmpl.Spec.Containers, 1)
	c := tmpl.Spec.Containers[0]
	assert.Equal(t, "nfsd", c.Name)
	assert.Equal(t, Image(in), c.Image)
	var ports []int32
	for _, p := range c.Ports {
		ports = append(ports, p.ContainerPort)
	}
	assert.Equal(t, []int32{2049, 80}, ports)
	require.NotNil(t, c.ReadinessProbe)
	require.NotNil(t, c.ReadinessProbe.HTTPGet)
	assert.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, intstr.FromInt32(80), c.ReadinessProbe.HTTPGet.Port)
	require.NotNil(t, c.SecurityContext)
	require.NotNil(t, c.SecurityContext.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	assert.ElementsMatch(t, []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID",
		"NET_BIND_SERVICE", "SETGID", "SETUID", "SYS_ADMIN"}, c.SecurityContext.Capabilities.Add)
	assert.Contains(t, c.Env, corev1.EnvVar{Name: "GANESHA_CONFIGFILE", Value: "/config/" + nfs.Name})
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	assert.Equal(t, map[string]string{"nfs-config": "/config", "nfs-data": "/export"}, mounts)

	require.Len(t, tmpl.Spec.Volumes, 2)
	config, data := tmpl.Spec.Volumes[0], tmpl.Spec.Volumes[1]
	assert.Equal(t, "nfs-config", config.Name)
	require.NotNil(t, config.ConfigMap)
	assert.Equal(t, nfs.Name, config.ConfigMap.Name, "the config volume is the server's ConfigMap")
	assert.Equal(t, "nfs-data", data.Name)
	require.NotNil(t, data.PersistentVolumeClaim)
	assert.Equal(t, ClaimName(nfs), data.PersistentVolumeClaim.ClaimName)
}

func TestObjects(t *testing.T) {
	type check func(t *testing.T, in Input, objs []client.Object)
	defaultKinds := []string{"ServiceAccount/storageos-nfs-shared", "Service/shared", "Service/shared-metrics",
		"ConfigMap/shared", "PersistentVolumeClaim/shared", "StatefulSet/shared"}
	cases := []struct {
		name      string
		server    func(*storageosv1.NFSServer)
		cluster   func(*storageosv1.StorageOSCluster)
		monitors  bool
		wantKinds []string
		check     check
	}{
		{
			name:      "defaults: own claim of the cluster's class and 1Gi, fenced pod, no placement",
			wantKinds: defaultKinds,
			check: func(t *testing.T, _ Input, objs []client.Object) {
				pvc := findObject[*corev1.PersistentVolumeClaim](t, objs, "shared")
				assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
				require.NotNil(t, pvc.Spec.StorageClassName)
				assert.Equal(t, "fast", *pvc.Spec.StorageClassName)
				assert.Equal(t, "1Gi", pvc.Spec.Resources.Requests.Storage().String())

				pod := findStatefulSet(t, objs).Spec.Template
				assert.Equal(t, "true", pod.Labels["storageos.com/fenced"], "StorageOS fences the pod by this label")
				assert.Nil(t, pod.Spec.Affinity)
				assert.Empty(t, pod.Spec.Tolerations)
				assert.Equal(t, []string{AnnotationConfigHash}, keys(pod.Annotations), "only the config hash")
				data := pod.Spec.Volumes[1].PersistentVolumeClaim
				assert.Equal(t, "shared", data.ClaimName)
				assert.False(t, data.ReadOnly)
			},
		},
		{
			name: "own claim takes the server's class and requested capacity",
			server: func(s *storageosv1.NFSServer) {
				s.Spec.StorageClassName = "slow"
				s.Spec.Resources = storageRequest("5Gi")
			},
			wantKinds: defaultKinds,
			check: func(t *testing.T, _ Input, objs []client.Object) {
				pvc := findObject[*corev1.PersistentVolumeClaim](t, objs, "shared")
				assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
				require.NotNil(t, pvc.Spec.StorageClassName)
				assert.Equal(t, "slow", *pvc.Spec.StorageClassName)
				assert.Equal(t, "5Gi", pvc.Spec.Resources.Requests.Storage().String())
			},
		},
		{
			name: "named claim: no claim object, the pod mounts the named claim read-only as asked",
			server: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeClaim = corev1.PersistentVolumeClaimVolumeSource{ClaimName: "existing", ReadOnly: true}
			},
			wantKinds: []string{"ServiceAccount/storageos-nfs-shared", "Service/shared", "Service/shared-metrics",
				"ConfigMap/shared", "StatefulSet/shared"},
			check: func(t *testing.T, _ Input, objs []client.Object) {
				data := findStatefulSet(t, objs).Spec.Template.Spec.Volumes[1].PersistentVolumeClaim
				require.NotNil(t, data)
				assert.Equal(t, "existing", data.ClaimName)
				assert.True(t, data.ReadOnly)
				cm := findObject[*corev1.ConfigMap](t, objs, "shared")
				assert.Contains(t, configLines(cm.Data["shared"]), "Path = /export/existing;")
			},
		},
		{
			name:    "OpenShift: the ServiceAccount is bound to the SCC role",
			cluster: func(c *storageosv1.StorageOSCluster) { c.Spec.K8sDistro = "openshift" },
			wantKinds: []string{"ServiceAccount/storageos-nfs-shared", "Service/shared", "Service/shared-metrics",
				"ConfigMap/shared", "RoleBinding/storageos:openshift-scc-nfs-shared",
				"PersistentVolumeClaim/shared", "StatefulSet/shared"},
			check: func(t *testing.T, _ Input, objs []client.Object) {
				// A RoleBinding in the server's namespace: the SCC is usable there only, and the binding is owned
				// by the server (checkCommon), so it goes with it.
				crb := findObject[*rbacv1.RoleBinding](t, objs, "storageos:openshift-scc-nfs-shared")
				assert.Equal(t, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole",
					Name: "storageos:openshift-scc"}, crb.RoleRef)
				assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "storageos-nfs-shared",
					Namespace: "apps"}}, crb.Subjects)
				assert.Equal(t, "apps", crb.Namespace)
			},
		},
		{
			name:     "ServiceMonitors served: one selecting the metrics Service",
			monitors: true,
			wantKinds: []string{"ServiceAccount/storageos-nfs-shared", "Service/shared", "Service/shared-metrics",
				"ConfigMap/shared", "PersistentVolumeClaim/shared", "StatefulSet/shared", "ServiceMonitor/shared-metrics"},
			check: func(t *testing.T, _ Input, objs []client.Object) {
				sm := findObject[*unstructured.Unstructured](t, objs, "shared-metrics")
				assert.Equal(t, "monitoring.coreos.com/v1", sm.GetAPIVersion())
				assert.Equal(t, "ServiceMonitor", sm.GetKind())
				matchLabels, found, err := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
				require.NoError(t, err)
				require.True(t, found)
				require.NotEmpty(t, matchLabels)
				selects := func(svc *corev1.Service) bool {
					for k, v := range matchLabels {
						if svc.Labels[k] != v {
							return false
						}
					}
					return true
				}
				assert.True(t, selects(findObject[*corev1.Service](t, objs, "shared-metrics")), "selects the metrics Service")
				assert.False(t, selects(findObject[*corev1.Service](t, objs, "shared")), "does not select the NFS Service")
				endpoints, found, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
				require.NoError(t, err)
				require.True(t, found)
				require.Len(t, endpoints, 1)
				assert.Equal(t, "metrics", endpoints[0].(map[string]any)["port"], "scrapes the metrics Service's port")
			},
		},
		{
			name:      "fencing disabled: no fenced label on the pod, even when the NFSServer carries it",
			cluster:   func(c *storageosv1.StorageOSCluster) { c.Spec.DisableFencing = true },
			server:    func(s *storageosv1.NFSServer) { s.Labels = map[string]string{"storageos.com/fenced": "true"} },
			wantKinds: defaultKinds,
			check: func(t *testing.T, _ Input, objs []client.Object) {
				assert.NotContains(t, findStatefulSet(t, objs).Spec.Template.Labels, "storageos.com/fenced")
			},
		},
		{
			name: "cluster nodeSelectorTerms: required node affinity",
			cluster: func(c *storageosv1.StorageOSCluster) {
				c.Spec.NodeSelectorTerms = []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "storage", Operator: corev1.NodeSelectorOpIn, Values: []string{"yes"}}}}}
			},
			wantKinds: defaultKinds,
			check: func(t *testing.T, in Input, objs []client.Object) {
				affinity := findStatefulSet(t, objs).Spec.Template.Spec.Affinity
				require.NotNil(t, affinity)
				require.NotNil(t, affinity.NodeAffinity)
				require.NotNil(t, affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
				assert.Equal(t, in.Cluster.Spec.NodeSelectorTerms,
					affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
			},
		},
		{
			name: "tolerations and annotations of the spec are on the pod template",
			server: func(s *storageosv1.NFSServer) {
				s.Spec.Tolerations = []corev1.Toleration{{Key: "storage", Operator: corev1.TolerationOpExists,
					Effect: corev1.TaintEffectNoSchedule}}
				s.Spec.Annotations = map[string]string{"example.com/team": "storage"}
			},
			wantKinds: defaultKinds,
			check: func(t *testing.T, in Input, objs []client.Object) {
				pod := findStatefulSet(t, objs).Spec.Template
				assert.Equal(t, in.Server.Spec.Tolerations, pod.Spec.Tolerations)
				assert.Equal(t, "storage", pod.Annotations["example.com/team"])
				assert.NotEmpty(t, pod.Annotations[AnnotationConfigHash])
				// The hash goes on a copy: the NFSServer's spec is not written through.
				assert.Equal(t, map[string]string{"example.com/team": "storage"}, in.Server.Spec.Annotations)
			},
		},
		{
			name: "NFSServer labels reach the claim only, except who owns the objects and the operator's own keys",
			server: func(s *storageosv1.NFSServer) {
				s.Labels = map[string]string{
					"storageos.com/replicas":          "2",
					"app.kubernetes.io/managed-by":    "someone-else",
					"storageos.com/cluster-namespace": "other-namespace",
					"nfsserver":                       "spoofed",
				}
			},
			wantKinds: defaultKinds,
			check: func(t *testing.T, _ Input, objs []client.Object) {
				// StorageOS reads volume settings from the claim's labels.
				pvc := findObject[*corev1.PersistentVolumeClaim](t, objs, "shared")
				assert.Equal(t, "2", pvc.Labels["storageos.com/replicas"])
				// On the pod they would restart the server at every label edit.
				assert.NotContains(t, findStatefulSet(t, objs).Spec.Template.Labels, "storageos.com/replicas")
				for _, o := range objs {
					what := kindOf(t, o) + "/" + o.GetName()
					assert.NotEqual(t, "someone-else", o.GetLabels()[names.LabelManagedBy], what)
					assert.NotEqual(t, "other-namespace", o.GetLabels()[names.LabelClusterNamespace], what)
					assert.Equal(t, "shared", o.GetLabels()[LabelServer], what)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Server: fixtureServer(tc.server), Cluster: fixtureCluster(tc.cluster), Getenv: noEnv,
				ServiceMonitors: tc.monitors}
			objs := Objects(in)
			require.Equal(t, tc.wantKinds, kindNames(t, objs))
			checkCommon(t, in, objs)
			tc.check(t, in, objs)
		})
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The config hash rolls the pod when Ganesha's configuration changes (Ganesha reads it only at start), and only
// then: an unrelated edit must not restart the server its clients are using.
func TestObjectsConfigHashFollowsGaneshaConfig(t *testing.T) {
	hash := func(mutate func(*storageosv1.NFSServer)) string {
		in := Input{Server: fixtureServer(mutate), Cluster: fixtureCluster(nil), Getenv: noEnv}
		h := findStatefulSet(t, Objects(in)).Spec.Template.Annotations[AnnotationConfigHash]
		require.NotEmpty(t, h)
		return h
	}
	exportWith := func(access string) func(*storageosv1.NFSServer) {
		return func(s *storageosv1.NFSServer) {
			s.Spec.Export = storageosv1.ExportSpec{Name: "data", Server: storageosv1.ServerSpec{AccessMode: access}}
		}
	}
	base := hash(exportWith("ReadWrite"))

	assert.Equal(t, base, hash(exportWith("ReadWrite")), "the hash is deterministic")
	assert.NotEqual(t, base, hash(exportWith("ReadOnly")), "changing the export's access mode changes the hash")
	assert.Equal(t, base, hash(exportWith("readwrite")), "a spelling of the same access mode does not")
	assert.Equal(t, base, hash(func(s *storageosv1.NFSServer) {
		exportWith("ReadWrite")(s)
		s.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
		s.Spec.Annotations = map[string]string{"example.com/team": "storage"}
	}), "tolerations and annotations do not change the hash")
}

func TestVolumeSettings(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*storageosv1.NFSServer)
		volume string
		want   map[string]any // spec of the PersistentVolume; nil for no object
	}{
		{name: "nothing set", volume: "pvc-1"},
		{name: "reclaim policy but no volume bound yet", volume: "",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			}},
		{name: "mount options but no volume bound yet", volume: "",
			mutate: func(s *storageosv1.NFSServer) { s.Spec.MountOptions = []string{"noatime"} }},
		{name: "reclaim policy only", volume: "pvc-1",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
			},
			want: map[string]any{"persistentVolumeReclaimPolicy": "Retain"}},
		{name: "mount options only", volume: "pvc-1",
			mutate: func(s *storageosv1.NFSServer) { s.Spec.MountOptions = []string{"noatime", "nodiratime"} },
			want:   map[string]any{"mountOptions": []any{"noatime", "nodiratime"}}},
		{name: "both", volume: "pvc-1",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
				s.Spec.MountOptions = []string{"noatime"}
			},
			want: map[string]any{"persistentVolumeReclaimPolicy": "Delete", "mountOptions": []any{"noatime"}}},
		{
			// Only what the NFSServer decides is applied: the rest of the volume belongs to its provisioner.
			name: "other spec fields are not carried", volume: "pvc-1",
			mutate: func(s *storageosv1.NFSServer) {
				s.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
				s.Spec.StorageClassName = "slow"
				s.Spec.Resources = storageRequest("5Gi")
			},
			want: map[string]any{"persistentVolumeReclaimPolicy": "Retain"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := VolumeSettings(fixtureServer(tc.mutate), tc.volume)
			if tc.want == nil {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, map[string]any{
				"apiVersion": "v1", "kind": "PersistentVolume",
				"metadata": map[string]any{"name": tc.volume},
				"spec":     tc.want,
			}, got.Object)
		})
	}
}
