package soak

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storageosv1 "github.com/storageos/cluster-operator/apis/storageos/v1"
	"github.com/storageos/cluster-operator/internal/demo"
)

// endChecks are the invariants checked once, at the end: applications, Jobs, deletions, the webhook, the logs,
// events and statuses, memory.
func (s *soak) endChecks(ctx context.Context) {
	// The key issued after the last deletion of the webhook's Secret is one nothing may show either.
	secret := &corev1.Secret{}
	if err := s.d.Client.Get(ctx, client.ObjectKey{Namespace: demo.Namespace, Name: webhookCertSecret}, secret); err == nil {
		s.rememberKeys(secret)
	}
	s.checkAppsRestored(ctx, "at the end")
	s.checkLeaks(ctx, true)
	s.checkJobEvents(ctx)
	s.checkRefusedPods(ctx)
	s.checkSecretsAndPanics(ctx)
	s.checkMemory()
}

// checkJobEvents: no Job announced its completion (the JobCompleted event) more than once, and every Job still
// there completed. Once is not required: an event is best-effort in Kubernetes (sent after the status write, so
// lost when the job-manager is killed in between, and expired by the API server after an hour); pkg/job's
// envtests check that it is sent. Completion itself is checked in the status, which never goes back.
func (s *soak) checkJobEvents(ctx context.Context) {
	var events eventsv1.EventList
	if err := s.d.Client.List(ctx, &events, client.InNamespace(appsNamespace)); err != nil {
		s.r.check(JobOnce, "listing events: "+err.Error())
		return
	}
	completions := map[string]int{}
	for _, e := range events.Items {
		if e.Reason == "JobCompleted" && e.Regarding.Kind == "Job" {
			n := 1
			if e.Series != nil {
				n = int(e.Series.Count)
			}
			completions[e.Regarding.Name] += n
		}
	}
	s.mu.Lock()
	for name := range s.completedJobs {
		completions[name] += 0 // counted as a check
	}
	s.mu.Unlock()
	for _, name := range sortedKeys(completions) {
		violation := ""
		if n := completions[name]; n > 1 {
			violation = fmt.Sprintf("Job %s announced its completion %d times", name, n)
		}
		s.r.check(JobOnce, violation)
	}
	for _, name := range s.jobNames(false) {
		s.mu.Lock()
		done := s.completedJobs[name]
		s.mu.Unlock()
		violation := ""
		if !done {
			violation = fmt.Sprintf("Job %s never completed", name)
		}
		s.r.check(JobOnce, violation)
	}
}

// checkRefusedPods: no controller was refused a pod by a webhook. The scheduler webhook never denies, and
// fails open when it cannot answer.
func (s *soak) checkRefusedPods(ctx context.Context) {
	var events corev1.EventList
	if err := s.d.Client.List(ctx, &events, client.InNamespace(appsNamespace)); err != nil {
		s.r.check(WebhookNeverDeny, "listing events: "+err.Error())
		return
	}
	refused := 0
	for _, e := range events.Items {
		if e.Reason == "FailedCreate" && strings.Contains(e.Message, "webhook") {
			refused++
			s.r.check(WebhookNeverDeny, fmt.Sprintf("%s/%s: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message))
		}
	}
	if refused == 0 {
		s.r.check(WebhookNeverDeny, "")
	}
}

// checkSecretsAndPanics reads every manager's log (all its runs), every event and the status of every
// storageos.com object for a Secret value, and the logs for panics, fatal errors and data races.
func (s *soak) checkSecretsAndPanics(ctx context.Context) {
	var texts []struct{ where, text string }
	s.procMu.Lock()
	var logs []string
	for _, m := range s.managers() {
		logs = append(logs, m.LogPath)
	}
	s.procMu.Unlock()
	for _, logPath := range logs {
		data, err := os.ReadFile(logPath)
		if err != nil {
			s.r.check(NoPanicOrRace, fmt.Sprintf("reading %s: %v", logPath, err))
			continue
		}
		texts = append(texts, struct{ where, text string }{filepath.Base(logPath), string(data)})
		for _, bad := range []string{"panic:", "fatal error:", "WARNING: DATA RACE"} {
			violation := ""
			if i := bytes.Index(data, []byte(bad)); i >= 0 {
				violation = fmt.Sprintf("%s: %q (see %s)", filepath.Base(logPath), excerpt(string(data), i), logPath)
			}
			s.r.check(NoPanicOrRace, violation)
		}
	}
	for _, list := range []client.ObjectList{&corev1.EventList{}, &eventsv1.EventList{}, &storageosv1.StorageOSClusterList{},
		&storageosv1.StorageOSUpgradeList{}, &storageosv1.JobList{}, &storageosv1.NFSServerList{}} {
		if err := s.d.Client.List(ctx, list); err != nil {
			s.r.check(NoSecretShown, fmt.Sprintf("listing %T: %v", list, err))
			continue
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			data, _ := json.Marshal(statusOrAll(item))
			texts = append(texts, struct{ where, text string }{fmt.Sprintf("%T %s", item, item.(client.Object).GetName()), string(data)})
		}
	}
	s.mu.Lock()
	secrets := s.secrets
	s.mu.Unlock()
	for _, t := range texts {
		violation := ""
		for value, what := range secrets {
			// As it is, or base64-encoded as in a Secret's data.
			if strings.Contains(t.text, value) || strings.Contains(t.text, base64.StdEncoding.EncodeToString([]byte(value))) {
				violation = fmt.Sprintf("%s shows %s", t.where, what)
			}
		}
		s.r.check(NoSecretShown, violation)
	}
}

// statusOrAll is what of an object is searched for secrets: the status of storageos.com objects (their spec
// names Secrets, never holds their values), events whole.
func statusOrAll(obj any) any {
	switch o := obj.(type) {
	case *storageosv1.StorageOSCluster:
		return o.Status
	case *storageosv1.StorageOSUpgrade:
		return o.Status
	case *storageosv1.Job:
		return o.Status
	case *storageosv1.NFSServer:
		return o.Status
	}
	return obj
}

// excerpt is the line of text from at, at most 160 bytes.
func excerpt(text string, at int) string {
	end := min(len(text), at+160)
	if i := strings.IndexByte(text[at:end], '\n'); i >= 0 {
		end = at + i
	}
	return text[at:end]
}

// memoryGrowth is how much a binary's peak memory in the last third of the soak may exceed the first third's:
// half as much again, plus room for the caches of the objects the soak made in between.
const memoryGrowthFactor, memoryGrowthSlack = 1.5, 32 << 20

// checkMemory: each binary's peak memory in the last third of the soak within memoryGrowth of the first third's.
func (s *soak) checkMemory() {
	s.r.mu.Lock()
	peaks := map[string][2]int64{}
	for b, p := range s.r.peakRSS {
		peaks[b] = *p
	}
	s.r.mu.Unlock()
	for _, b := range demo.Binaries {
		p := peaks[b]
		violation := ""
		switch {
		case p[0] == 0 || p[1] == 0:
			violation = fmt.Sprintf("%s: no memory sample in the first or last third", b)
		case float64(p[1]) > memoryGrowthFactor*float64(p[0])+memoryGrowthSlack:
			violation = fmt.Sprintf("%s: peak %d MiB in the last third, %d MiB in the first", b, p[1]>>20, p[0]>>20)
		}
		s.r.check(MemoryFlat, violation)
	}
}
