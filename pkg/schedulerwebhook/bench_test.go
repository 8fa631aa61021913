package schedulerwebhook

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// BenchmarkAdmission sends AdmissionReviews over HTTPS on loopback to the webhook and, in the same run, to an
// empty handler that answers "allowed" without decoding anything: the baseline of TLS, HTTP and JSON. It
// reports p50/p99 latency and throughput at several concurrencies (target: webhook p99 at most twice the
// baseline's). Run with: go test -run '^$' -bench Admission ./pkg/schedulerwebhook/
func BenchmarkAdmission(b *testing.B) {
	review := admissionReview(b)
	empty := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}`))
	})
	l := newLister()
	hook := &webhook.Admission{Handler: &Handler{Lister: l}}
	for _, concurrency := range []int{1, 8, 32} {
		for _, target := range []struct {
			name    string
			handler http.Handler
		}{{"baseline", empty}, {"webhook", hook}} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", target.name, concurrency), func(b *testing.B) {
				srv := httptest.NewUnstartedServer(target.handler)
				srv.EnableHTTP2 = false
				srv.StartTLS()
				defer srv.Close()
				client := &http.Client{Transport: &http.Transport{
					TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback benchmark
					MaxIdleConnsPerHost: concurrency,
				}}
				latencies := make([]time.Duration, 0, b.N)
				var mu sync.Mutex
				work := make(chan struct{})
				var wg sync.WaitGroup
				for range concurrency {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range work {
							start := time.Now()
							resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(review))
							if err != nil {
								b.Error(err)
								continue
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							_ = resp.Body.Close()
							d := time.Since(start)
							mu.Lock()
							latencies = append(latencies, d)
							mu.Unlock()
						}
					}()
				}
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					work <- struct{}{}
				}
				close(work)
				wg.Wait()
				elapsed := time.Since(start)
				sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
				if len(latencies) > 0 {
					b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			})
		}
	}
}

// admissionReview is a pod creation with a StorageOS PVC, as the API server sends it.
func admissionReview(b *testing.B) []byte {
	pod, err := json.Marshal(podWith(claim("data")))
	if err != nil {
		b.Fatal(err)
	}
	review, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u", Operation: admissionv1.Create, Namespace: "app",
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Object: runtime.RawExtension{Raw: pod}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return review
}
