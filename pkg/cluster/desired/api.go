package desired

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/storageos/cluster-operator/pkg/names"
)

// apiObjects: the Service in front of the StorageOS API, and the Ingress when ingress.enable.
func apiObjects(in Input) []client.Object {
	spec := in.Cluster.Spec
	svcMeta := meta(in, OperandAPI, spec.Service.Name)
	svcMeta.Annotations = spec.Service.Annotations
	objs := []client.Object{&corev1.Service{
		ObjectMeta: svcMeta,
		Spec: corev1.ServiceSpec{
			Type:     spec.Service.Type,
			Selector: names.NodePodLabels(),
			Ports: []corev1.ServicePort{{
				Name:       "storageos",
				Protocol:   corev1.ProtocolTCP,
				Port:       spec.Service.ExternalPort,
				TargetPort: intstr.FromInt32(spec.Service.InternalPort),
			}},
		},
	}}
	if !spec.Ingress.Enable {
		return objs
	}
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: spec.Service.Name, Port: networkingv1.ServiceBackendPort{Number: spec.Service.ExternalPort}}}
	ingMeta := meta(in, OperandAPI, IngressName)
	ingMeta.Annotations = spec.Ingress.Annotations
	ing := &networkingv1.Ingress{
		ObjectMeta: ingMeta,
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &backend,
			Rules: []networkingv1.IngressRule{{
				Host: spec.Ingress.Hostname,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend,
					}},
				}},
			}},
		},
	}
	if spec.Ingress.TLS {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{spec.Ingress.Hostname}, SecretName: IngressTLSSecretName}}
	}
	return append(objs, ing)
}
