package schedulerwebhook

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// The handler logs through controller-runtime's global logger; give it one, as the binary does, so the
// logger's 30-second "never set" fallback does not run inside the fuzzer's workers.
func init() { ctrllog.SetLogger(logr.Discard()) }

func request(op admissionv1.Operation, kind string, raw []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "uid", Operation: op, Namespace: "app",
		Kind:   metav1.GroupVersionKind{Version: "v1", Kind: kind},
		Object: runtime.RawExtension{Raw: raw},
	}}
}

func mustJSON(t testing.TB, v any) []byte {
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}

func TestHandlerSetsTheSchedulerName(t *testing.T) {
	h := &Handler{Lister: newLister()}
	resp := h.Handle(context.Background(), request(admissionv1.Create, "Pod", mustJSON(t, podWith(claim("data")))))
	assert.True(t, resp.Allowed)
	require.Len(t, resp.Patches, 1)
	assert.Equal(t, "add", resp.Patches[0].Operation)
	assert.Equal(t, "/spec/schedulerName", resp.Patches[0].Path)
	assert.Equal(t, "storageos-scheduler", resp.Patches[0].Value)
}

// A controller's pod (generateName, no namespace in the object) is in the request's namespace, where its claims
// are looked up.
func TestHandlerLooksUpClaimsInTheRequestsNamespace(t *testing.T) {
	h := &Handler{Lister: newLister()}
	pod := podWith(claim("data"))
	pod.Namespace = ""
	resp := h.Handle(context.Background(), request(admissionv1.Create, "Pod", mustJSON(t, pod)))
	assert.True(t, resp.Allowed)
	require.Len(t, resp.Patches, 1, "the claim app/data is found: the pod goes to the StorageOS scheduler")
	assert.Equal(t, "storageos-scheduler", resp.Patches[0].Value)
}

func TestHandlerNeverDenies(t *testing.T) {
	storageosPod := mustJSON(t, podWith(claim("data")))
	cases := []struct {
		name    string
		req     admission.Request
		lister  func(*fakeLister)
		warning bool
	}{
		{"malformed pod", request(admissionv1.Create, "Pod", []byte(`{"spec": {"volumes": 7}}`)), nil, true},
		{"empty object", request(admissionv1.Create, "Pod", nil), nil, true},
		{"lookup failure", request(admissionv1.Create, "Pod", storageosPod), func(l *fakeLister) { l.failWith = errors.New("cache not synced") }, true},
		{"panic in a lookup", request(admissionv1.Create, "Pod", storageosPod), func(l *fakeLister) { l.panicOnPVC = true }, true},
		{"namespace opted out by label", request(admissionv1.Create, "Pod", storageosPod), func(l *fakeLister) { l.optedOut = map[string]bool{"app": true} }, false},
		{"namespace lookup failure", request(admissionv1.Create, "Pod", storageosPod), func(l *fakeLister) { l.nsFailWith = errors.New("cache not synced") }, true},
		{"update", request(admissionv1.Update, "Pod", storageosPod), nil, false},
		{"not a pod", request(admissionv1.Create, "Deployment", storageosPod), nil, false},
		{"pod without StorageOS volumes", request(admissionv1.Create, "Pod", mustJSON(t, podWith(claim("ebs")))), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLister()
			if tc.lister != nil {
				tc.lister(l)
			}
			resp := (&Handler{Lister: l}).Handle(context.Background(), tc.req)
			assert.True(t, resp.Allowed, "never deny")
			assert.Empty(t, resp.Patches, "unchanged")
			if tc.warning {
				require.Len(t, resp.Warnings, 1)
				assert.Contains(t, resp.Warnings[0], "admitted the pod unchanged")
			} else {
				assert.Empty(t, resp.Warnings)
			}
		})
	}
}

// Whatever arrives, the answer is allowed, and the only change ever made is the scheduler name.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a"},"spec":{"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"data"}}]}}`))
	f.Add([]byte(`{"spec":{"schedulerName":"default-scheduler","volumes":[{"name":"e","ephemeral":{"volumeClaimTemplate":{"spec":{}}}}]}}`))
	f.Add([]byte(`{"metadata":{"annotations":{"storageos.com/scheduler":"false"}}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l := newLister()
		l.defaultSC = "fast"
		resp := (&Handler{Lister: l}).Handle(context.Background(), request(admissionv1.Create, "Pod", raw))
		if !resp.Allowed {
			t.Fatalf("denied %q", raw)
		}
		for _, p := range resp.Patches {
			if p.Path != "/spec/schedulerName" || p.Value != SchedulerName {
				t.Fatalf("unexpected patch %+v for %q", p, raw)
			}
		}
	})
}

// Every admission is counted by outcome and timed, on the metrics endpoint's registry.
func TestAdmissionsAreCountedByOutcome(t *testing.T) {
	before := map[string]float64{}
	for _, o := range []string{outcomeMutated, outcomeSkipped, outcomeError} {
		before[o] = testutil.ToFloat64(admissions.WithLabelValues(o))
	}
	observed := testutil.CollectAndCount(latency)
	l := newLister()
	h := &Handler{Lister: l}
	h.Handle(context.Background(), request(admissionv1.Create, "Pod", mustJSON(t, podWith(claim("data")))))
	h.Handle(context.Background(), request(admissionv1.Create, "Pod", mustJSON(t, podWith(claim("ebs")))))
	h.Handle(context.Background(), request(admissionv1.Create, "Pod", []byte("{")))

	for _, o := range []string{outcomeMutated, outcomeSkipped, outcomeError} {
		assert.Equal(t, before[o]+1, testutil.ToFloat64(admissions.WithLabelValues(o)), o)
	}
	assert.Equal(t, observed, testutil.CollectAndCount(latency), "one histogram")
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	assert.Contains(t, names, "storageos_scheduler_webhook_admissions_total")
	assert.Contains(t, names, "storageos_scheduler_webhook_admission_duration_seconds")
}
