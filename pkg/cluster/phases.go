package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/pkg/cluster/desired"
	"github.com/storageos/cluster-operator/pkg/ssa"
	"github.com/storageos/cluster-operator/pkg/storageos"
)

type phase func(context.Context, *scope) error

// deployPhases run in dependency order; each operand applies what it wants and removes what it no longer wants.
func (r *Reconciler) deployPhases() []phase {
	out := []phase{r.reconcileNamespace}
	for _, op := range desired.Operands {
		out = append(out, r.reconcileOperand(op))
	}
	return out
}

// WithDefaultDistro is the cluster as the builders (its own and the NFS servers') see it: a cluster that names no k8sDistro gets the
// operator's default (set where the platform is known, e.g. by the OpenShift install). The stored object is
// not changed.
func WithDefaultDistro(c *storageosv1.StorageOSCluster, distro string) *storageosv1.StorageOSCluster {
	if c.Spec.K8sDistro != "" || distro == "" {
		return c
	}
	c = c.DeepCopy()
	c.Spec.K8sDistro = distro
	return c
}

// reconcileInput gathers what the desired state depends on: the referenced secrets and the images.
func (r *Reconciler) reconcileInput(ctx context.Context, s *scope) error {
	spec := s.cluster.Spec
	apiSecret := &corev1.Secret{}
	key := client.ObjectKey{Namespace: string(spec.SecretRefNamespace), Name: string(spec.SecretRefName)}
	if err := r.useSecret(ctx, key, apiSecret, "secretRefName", requiredKeys(spec)); err != nil {
		return err
	}
	s.input = desired.Input{
		Cluster:     WithDefaultDistro(s.cluster, r.DefaultK8sDistro),
		KubeVersion: r.KubeVersion,
		Images:      desired.ResolveImages(spec.Images, r.KubeVersion, r.Getenv),
		APISecret:   apiSecret.Data,
	}
	if spec.TLSEtcdSecretRefName != "" {
		etcd := &corev1.Secret{}
		key := client.ObjectKey{Namespace: string(spec.TLSEtcdSecretRefNamespace), Name: string(spec.TLSEtcdSecretRefName)}
		if err := r.useSecret(ctx, key, etcd, "tlsEtcdSecretRefName", desired.EtcdTLSKeys); err != nil {
			return err
		}
		s.input.EtcdTLSSecret = etcd
	}
	return nil
}

// useSecret reads a referenced Secret that must hold keys. What is wrong with it (missing, which keys it lacks)
// goes to the log only, for the operator's administrators: the error reaches the cluster's status and events,
// which people who cannot read the Secret may read, so it says what is needed, never what the Secret holds or
// whether it exists.
func (r *Reconciler) useSecret(ctx context.Context, key client.ObjectKey, secret *corev1.Secret, field string, keys []string) error {
	err := r.secrets.get(ctx, key, secret)
	if err == nil {
		err = requireKeys(secret, keys...)
	}
	if err != nil {
		log.FromContext(ctx).Info("referenced Secret unusable", "field", field, "secret", key.String(), "reason", err.Error())
		if !apierrors.IsNotFound(err) && !errors.Is(err, errMissingKeys) {
			return fmt.Errorf("reading the Secret named by %s: %w", field, err)
		}
		return &unusableSecretError{Field: field, Keys: keys}
	}
	return nil
}

// unusableSecretError is a referenced Secret that is missing or lacks a key; its message names the field and the
// keys StorageOS needs, not the Secret's state.
type unusableSecretError struct {
	Field string
	Keys  []string
}

func (e *unusableSecretError) Error() string {
	return fmt.Sprintf("the Secret named by %s must exist and hold %s", e.Field, strings.Join(e.Keys, ", "))
}

var errMissingKeys = errors.New("missing keys")

// reconcileNamespace creates the namespace when it is missing. An existing namespace is left as it is: it may be
// kube-system or hold other things, and it is only deleted with the cluster if the cluster created it.
func (r *Reconciler) reconcileNamespace(ctx context.Context, s *scope) error {
	ns := desired.Namespace(s.input)
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		return client.IgnoreAlreadyExists(r.Client.Create(ctx, ns))
	}
	return err
}

func (r *Reconciler) reconcileOperand(op desired.Operand) phase {
	return func(ctx context.Context, s *scope) error {
		objs := desired.Build(op, s.input)
		want := map[string]bool{}
		for _, obj := range objs {
			gvk, err := apiutil.GVKForObject(obj, r.Scheme)
			if err != nil {
				return err
			}
			want[ssa.Key(gvk, obj)] = true
		}
		// Remove what is no longer wanted first: after a switch of csi.deploymentStrategy the old CSI helper
		// must be gone before the new one starts, or two provisioners would run at once.
		if err := r.prune(ctx, s, op, want); err != nil {
			return err
		}
		var adopted []string
		defer func() {
			// One event per operand, not per object: the recorder folds many similar events into one.
			if len(adopted) > 0 {
				r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeNormal, EventAdopted, "Adopt",
					"took over from the original operator: %s", strings.Join(adopted, ", "))
			}
		}()
		for _, obj := range objs {
			_, took, err := r.applier.ApplyAdopting(ctx, obj)
			if took {
				gvk, _ := apiutil.GVKForObject(obj, r.Scheme) // resolved above
				adopted = append(adopted, gvk.Kind+" "+strings.TrimPrefix(client.ObjectKeyFromObject(obj).String(), "/"))
			}
			if waiting := (&ssa.WaitingForLegacyError{}); errors.As(err, &waiting) && waiting.Deleted {
				r.Recorder.Eventf(s.cluster, nil, corev1.EventTypeNormal, EventAdopted, "Adopt",
					"taking over %s %s from the original operator: deleted to be created again with this operator's selector (pods of a DaemonSet are kept)",
					waiting.Kind, waiting.Name)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		return nil
	}
}

// prune deletes the objects an operand created earlier and no longer wants: the Ingress once ingress.enable is
// off, the StatefulSet after a switch to the Deployment strategy, and so on.
func (r *Reconciler) prune(ctx context.Context, s *scope, op desired.Operand, want map[string]bool) error {
	if _, err := r.applier.Prune(ctx, managedLists(), desired.Labels(s.cluster, op), want); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// requiredKeys are the keys the API secret must hold for this spec.
func requiredKeys(spec storageosv1.StorageOSClusterSpec) []string {
	keys := []string{storageos.SecretUsernameKey, storageos.SecretPasswordKey}
	for _, c := range desired.EnabledCredentials(spec) {
		keys = append(keys, c.UsernameKey, c.PasswordKey)
	}
	if spec.Ingress.Enable && spec.Ingress.TLS {
		keys = append(keys, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return keys
}

// requireKeys names the keys a secret lacks (never their values).
func requireKeys(secret *corev1.Secret, keys ...string) error {
	var missing []string
	for _, k := range keys {
		if len(secret.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: lacks %s", errMissingKeys, strings.Join(missing, ", "))
	}
	return nil
}
