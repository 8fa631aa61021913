package kustomize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// serviceMonitor holds the fields of a monitoring.coreos.com/v1 ServiceMonitor the checks read.
type serviceMonitor struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port      string `json:"port"`
			Scheme    string `json:"scheme"`
			TLSConfig *struct {
				InsecureSkipVerify *bool  `json:"insecureSkipVerify"`
				ServerName         string `json:"serverName"`
				CA                 struct {
					Secret *corev1.SecretKeySelector `json:"secret"`
				} `json:"ca"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// certificate holds the fields of a cert-manager.io/v1 Certificate the checks read.
type certificate struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		DNSNames   []string `json:"dnsNames"`
		SecretName string   `json:"secretName"`
		IssuerRef  struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// loose decodes every resource of a kind into a struct that holds only some of its fields: for other projects'
// kinds, whose full types this module does not import.
func loose[T any](t *testing.T, r rendered, kind string) []*T {
	t.Helper()
	return decodeAll[T](t, r, kind, func(data []byte, obj any) error { return yaml.Unmarshal(data, obj) })
}

// Every ServiceMonitor verifies the certificate of the metrics endpoint it scrapes (a scraper's bearer token
// must reach the binary, not whoever answers on a pod address): a CA from the Secret of a Certificate of the
// install, and a serverName that is the metrics Service's name and one of that Certificate's names. Each binary
// it scrapes mounts that Secret and passes it with --metrics-cert-path; where ServiceMonitors are installed,
// every binary is scraped and the alerts (the PrometheusRule) are installed too.
func TestServiceMonitorsVerifyTheMetricsCertificate(t *testing.T) {
	monitored := 0
	for _, dir := range installs {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			assert.NotContains(t, string(r.yaml), "insecureSkipVerify")
			monitors := loose[serviceMonitor](t, r, "ServiceMonitor")
			if len(monitors) == 0 {
				return
			}
			monitored++

			certs := map[string]*certificate{}
			for _, c := range loose[certificate](t, r, "Certificate") {
				certs[c.Namespace+"/"+c.Spec.SecretName] = c
			}
			issuers := map[string]bool{}
			for _, res := range r.resources {
				if res.GetKind() == "Issuer" {
					issuers[res.GetNamespace()+"/"+res.GetName()] = true
				}
			}
			services := all[corev1.Service](t, r, "Service")
			deploys := deployments(t, r)
			scraped := map[string]bool{}

			for _, m := range monitors {
				selector, err := metav1.LabelSelectorAsSelector(&m.Spec.Selector)
				require.NoError(t, err)
				require.NotEmpty(t, m.Spec.Endpoints, m.Name)
				for _, e := range m.Spec.Endpoints {
					// The Prometheus Operator scrapes the selected Services that have a port of the endpoint's name.
					var svc *corev1.Service
					var port corev1.ServicePort
					for _, s := range services {
						for _, p := range s.Spec.Ports {
							if s.Namespace == m.Namespace && selector.Matches(labels.Set(s.Labels)) && p.Name == e.Port {
								require.Nil(t, svc, "ServiceMonitor %s scrapes more than one Service", m.Name)
								svc, port = s, p
							}
						}
					}
					require.NotNil(t, svc, "ServiceMonitor %s selects no Service with port %s", m.Name, e.Port)
					var d *appsv1.Deployment
					for _, candidate := range deploys {
						if candidate.Namespace == svc.Namespace && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(candidate.Spec.Template.Labels)) {
							require.Nil(t, d, "Service %s selects more than one Deployment", svc.Name)
							d = candidate
						}
					}
					require.NotNil(t, d, "Service %s selects no Deployment", svc.Name)
					scraped[d.Name] = true
					assert.Equal(t, "metrics", port.TargetPort.StrVal, "Service %s sends %s to the metrics port", svc.Name, e.Port)

					assert.Equal(t, "https", e.Scheme, m.Name)
					require.NotNil(t, e.TLSConfig, "%s verifies no certificate", m.Name)
					assert.Nil(t, e.TLSConfig.InsecureSkipVerify, m.Name)
					assert.Equal(t, svc.Name+"."+svc.Namespace+".svc", e.TLSConfig.ServerName, "%s expects the name of the Service it scrapes", m.Name)
					ca := e.TLSConfig.CA.Secret
					require.NotNil(t, ca, "%s has no CA to verify with", m.Name)
					assert.Equal(t, "ca.crt", ca.Key, "%s: cert-manager writes the issuing CA under ca.crt", m.Name)
					cert := certs[m.Namespace+"/"+ca.Name]
					require.NotNil(t, cert, "%s trusts Secret %s, which no Certificate of the install issues", m.Name, ca.Name)
					assert.Contains(t, cert.Spec.DNSNames, e.TLSConfig.ServerName, "Certificate %s is not valid for %s's serverName", cert.Name, m.Name)
					if cert.Spec.IssuerRef.Kind == "Issuer" {
						assert.True(t, issuers[cert.Namespace+"/"+cert.Spec.IssuerRef.Name], "Certificate %s names Issuer %s, which is not installed", cert.Name, cert.Spec.IssuerRef.Name)
					}
					assertServesCertificate(t, d, ca.Name)
				}
			}
			for name := range deploys {
				assert.True(t, scraped[name], "no ServiceMonitor scrapes %s", name)
			}
			// The alerts on those metrics come with them (test/prometheus tests the rules themselves).
			rules := loose[metav1.PartialObjectMetadata](t, r, "PrometheusRule")
			require.Len(t, rules, 1, "an install with ServiceMonitors installs the alerts")
			assert.Equal(t, "storageos-operator", rules[0].Name)
			assert.Equal(t, monitors[0].Namespace, rules[0].Namespace, "the PrometheusRule is where the ServiceMonitors are")
		})
	}
	assert.Positive(t, monitored, "some install has ServiceMonitors")
}

// assertServesCertificate checks that d's manager container mounts Secret secretName and serves metrics from
// it (--metrics-cert-path, with metrics on HTTPS).
func assertServesCertificate(t *testing.T, d *appsv1.Deployment, secretName string) {
	t.Helper()
	pod := d.Spec.Template.Spec
	volume := ""
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secretName {
			volume = v.Name
		}
	}
	require.NotEmpty(t, volume, "%s mounts no volume of Secret %s", d.Name, secretName)
	c := pod.Containers[0]
	path := ""
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			path = m.MountPath
		}
	}
	require.NotEmpty(t, path, "%s's %s container does not mount volume %s", d.Name, c.Name, volume)
	assert.Contains(t, c.Args, "--metrics-cert-path="+path, "%s serves metrics with the certificate mounted at %s", d.Name, path)
	assert.NotContains(t, c.Args, "--metrics-secure=false", "%s serves metrics over HTTPS", d.Name)
}
