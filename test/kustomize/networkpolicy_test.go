package kustomize

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// containerPort is the port of d's pods that a NetworkPolicy port means (by number or by name), or nil.
func containerPort(d *appsv1.Deployment, p networkingv1.NetworkPolicyPort) *corev1.ContainerPort {
	protocol := corev1.ProtocolTCP
	if p.Protocol != nil {
		protocol = *p.Protocol
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for i, cp := range c.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			if p.Port != nil && proto == protocol && (cp.ContainerPort == p.Port.IntVal || cp.Name == p.Port.StrVal) {
				return &c.Ports[i]
			}
		}
	}
	return nil
}

// probePorts are the ports d's probes use: the kubelet probes from the node, which NetworkPolicies never block.
func probePorts(d *appsv1.Deployment) map[string]bool {
	out := map[string]bool{}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p != nil && p.HTTPGet != nil {
				out[p.HTTPGet.Port.String()] = true
			}
		}
	}
	return out
}

// Production's NetworkPolicies select the operator's pods and admit what they serve: the webhook port from
// anywhere (the API server's address is not known in advance), metrics only from namespaces labelled
// metrics=enabled. A port a selected pod serves that no policy admits would be cut off.
func TestProductionNetworkPoliciesAdmitWhatTheBinariesServe(t *testing.T) {
	r := render(t, "overlays/production")
	policies := all[networkingv1.NetworkPolicy](t, r, "NetworkPolicy")
	require.NotEmpty(t, policies, "production installs NetworkPolicies")
	deploys := deployments(t, r)

	// admitted[deployment][container port name] for the pods that some policy selects.
	admitted := map[string]map[string]bool{}
	for _, p := range policies {
		assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, p.Spec.PolicyTypes,
			"%s restricts ingress only: the binaries call the API server and StorageOS, whose addresses vary", p.Name)
		selector, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		require.NoError(t, err)
		var selected []*appsv1.Deployment
		for _, d := range deploys {
			if d.Namespace == p.Namespace && selector.Matches(labels.Set(d.Spec.Template.Labels)) {
				selected = append(selected, d)
				if admitted[d.Name] == nil {
					admitted[d.Name] = map[string]bool{}
				}
			}
		}
		require.NotEmpty(t, selected, "NetworkPolicy %s selects no pod of the install", p.Name)

		for _, rule := range p.Spec.Ingress {
			require.NotEmpty(t, rule.Ports, "a rule of %s admits every port", p.Name)
			for _, port := range rule.Ports {
				for _, d := range selected {
					cp := containerPort(d, port)
					if !assert.NotNil(t, cp, "%s admits port %s, which %s's pods do not serve", p.Name, port.Port, d.Name) {
						continue
					}
					admitted[d.Name][cp.Name] = true
					switch cp.Name {
					case "webhook":
						assert.Empty(t, rule.From, "%s: the API server calls the webhook from an address not known in advance", p.Name)
					case "metrics":
						assert.Equal(t, []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
							MatchLabels: map[string]string{"metrics": "enabled"}}}}, rule.From,
							"%s: metrics only from namespaces labelled metrics=enabled", p.Name)
					}
				}
			}
		}
	}

	require.Len(t, admitted, len(deploys), "every binary's pods are selected by a policy")
	for name, d := range deploys {
		probes := probePorts(d)
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, cp := range c.Ports {
				if probes[cp.Name] || probes[strconv.Itoa(int(cp.ContainerPort))] {
					continue
				}
				assert.True(t, admitted[name][cp.Name], "%s serves port %s (%d), which no NetworkPolicy admits", name, cp.Name, cp.ContainerPort)
			}
		}
	}
}
