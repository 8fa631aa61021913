package schedulerwebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Path is where the webhook server serves the handler.
const Path = "/mutate-pods"

// Handler sets schedulerName on pods that use StorageOS volumes. It never denies: every error, a malformed
// request or a panic included, admits the pod unchanged with a warning, a log line and a metric, because a
// storage scheduler preference is never worth blocking a workload.
type Handler struct {
	Lister Lister
}

var _ admission.Handler = (*Handler)(nil)

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	start := time.Now()
	outcome := outcomeSkipped
	defer func() {
		if p := recover(); p != nil {
			ctrl.LoggerFrom(ctx).Error(fmt.Errorf("panic: %v", p), "Admitting pod unchanged after a panic", "pod", req.Name, "namespace", req.Namespace)
			resp, outcome = admitWithWarning(fmt.Errorf("internal error")), outcomeError
		}
		admissions.WithLabelValues(outcome).Inc()
		latency.Observe(time.Since(start).Seconds())
	}()

	if req.Operation != admissionv1.Create || req.Kind.Kind != "Pod" {
		return admission.Allowed("not a pod creation")
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(req.Object.Raw, pod); err != nil {
		outcome = outcomeError
		ctrl.LoggerFrom(ctx).Error(err, "Admitting pod unchanged: malformed request", "namespace", req.Namespace)
		return admitWithWarning(fmt.Errorf("malformed pod: %w", err))
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	decision, err := Decide(ctx, pod, h.Lister)
	if err != nil {
		outcome = outcomeError
		ctrl.LoggerFrom(ctx).Error(err, "Admitting pod unchanged: lookup failed", "pod", pod.Name, "namespace", pod.Namespace)
		return admitWithWarning(err)
	}
	if !decision.Mutate {
		return admission.Allowed(decision.Reason)
	}
	outcome = outcomeMutated
	// "add" sets the member whether or not the pod has one.
	return admission.Patched(decision.Reason, jsonpatch.JsonPatchOperation{
		Operation: "add", Path: "/spec/schedulerName", Value: SchedulerName,
	})
}

func admitWithWarning(err error) admission.Response {
	resp := admission.Allowed("admitted unchanged")
	resp.Warnings = []string{fmt.Sprintf("storageos scheduler webhook admitted the pod unchanged: %v", err)}
	return resp
}
