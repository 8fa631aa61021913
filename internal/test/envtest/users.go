package envtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// User is an authenticated user of that name, in no group but system:authenticated.
func User(name string) rest.ImpersonationConfig {
	return rest.ImpersonationConfig{UserName: name, Groups: []string{"system:authenticated"}}
}

// ServiceAccount is the identity of a ServiceAccount, with the groups the API server gives it.
func ServiceAccount(namespace, name string) rest.ImpersonationConfig {
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
}

// ClientAs is an uncached client acting as who (the admin impersonating them), for tests of what they may do.
func (e *Environment) ClientAs(t testing.TB, who rest.ImpersonationConfig) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = who
	c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	require.NoError(t, err)
	return c
}

// EventCounts counts the events about the object namespace/name by "reason: message", with the repetitions
// the recorder folded into one Event (its count, or its series' count): what kubectl describe shows as "x2".
func (e *Environment) EventCounts(t testing.TB, namespace, name string) map[string]int {
	t.Helper()
	var list corev1.EventList
	require.NoError(t, e.Client.List(context.Background(), &list, client.InNamespace(namespace)))
	out := map[string]int{}
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name != name {
			continue
		}
		n := max(1, int(ev.Count))
		if ev.Series != nil {
			n = max(n, int(ev.Series.Count))
		}
		out[ev.Reason+": "+ev.Message] += n
	}
	return out
}
