package admission

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// The cluster-manager may create admission policies and bindings (create cannot be limited by name) and change
// only its own.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=create
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=get;patch,resourceNames=storageos-cluster-authority;storageos-upgrade-authority;storageos-job-authority;storageos-nfsserver-authority

// Objects are the policies followed by their bindings, as unstructured objects ready to apply.
func Objects() ([]*unstructured.Unstructured, error) {
	var objs []runtime.Object
	for _, p := range Policies() {
		objs = append(objs, p)
	}
	for _, b := range Bindings() {
		objs = append(objs, b)
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "status")
		out = append(out, u)
	}
	return out, nil
}

// Ensure applies the policies and their bindings with server-side apply as fieldOwner.
func Ensure(ctx context.Context, c client.Client, fieldOwner string) error {
	objs, err := Objects()
	if err != nil {
		return err
	}
	for _, u := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// Ensurer ensures the policies once when its process starts, retrying until it succeeds: an OLM install has no
// other way to get them, and a kustomize install gets them updated along with the operator. Every replica runs
// it (the applies are idempotent), so a policy is in place as soon as any replica runs. It never reapplies in
// the steady state: deleting the policies takes rights that make them moot.
type Ensurer struct {
	Client     client.Client
	FieldOwner string
	// Backoff between attempts; zero means 1 s doubling to 1 min.
	Backoff wait.Backoff
}

var _ manager.LeaderElectionRunnable = &Ensurer{}

// NeedLeaderElection is false: every replica ensures the policies.
func (e *Ensurer) NeedLeaderElection() bool { return false }

// Start applies until success or until ctx ends.
func (e *Ensurer) Start(ctx context.Context) error {
	backoff := e.Backoff
	if backoff.Duration == 0 {
		backoff = wait.Backoff{Duration: time.Second, Factor: 2, Steps: 1 << 30, Cap: time.Minute}
	}
	logger := log.FromContext(ctx).WithName("admission-policies")
	for {
		err := Ensure(ctx, e.Client, e.FieldOwner)
		if err == nil {
			logger.Info("admission policies in place", "policies", len(Policies()))
			return nil
		}
		logger.Error(err, "ensuring the admission policies: storageos.com objects are not checked against their requester's rights until this succeeds")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Step()):
		}
	}
}
