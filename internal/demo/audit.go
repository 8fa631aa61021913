package demo

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Requests counts the requests one binary made to the API server, as the API server's audit log records them.
type Requests struct {
	// Total counts every request; Writes those that change something (create, update, patch, delete) other
	// than renewing its leader election Lease, which LeaseWrites counts; Watches the watches started.
	Total, Writes, LeaseWrites, Watches int
	// ByKind counts them by verb and resource, e.g. "patch storageosclusters/status".
	ByKind map[string]int
}

// serviceAccountUsers maps the user each binary authenticates as (its ServiceAccount) to the binary.
func (d *Demo) serviceAccountUsers() map[string]string {
	users := map[string]string{}
	for _, b := range Binaries {
		users[fmt.Sprintf("system:serviceaccount:%s:%s", Namespace, d.install.deployments[b].Spec.Template.Spec.ServiceAccountName)] = b
	}
	return users
}

// OperatorRequests counts each binary's requests that completed in [from, to), by binary, from the API server's
// audit log (Options.Audit): the API server's account, not the managers' own.
func (d *Demo) OperatorRequests(from, to time.Time) (map[string]Requests, error) {
	if d.Cluster.AuditLog == "" {
		return nil, fmt.Errorf("the demo was started without Options.Audit")
	}
	f, err := os.Open(d.Cluster.AuditLog)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return countRequests(f, d.serviceAccountUsers(), from, to)
}

// countRequests counts the requests of an audit log (JSON lines) made by users (user name to binary) that
// completed in [from, to); a watch counts once, when it starts.
func countRequests(log io.Reader, users map[string]string, from, to time.Time) (map[string]Requests, error) {
	out := map[string]Requests{}
	lines := bufio.NewScanner(log)
	lines.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for lines.Scan() {
		var e struct {
			Verb      string `json:"verb"`
			Stage     string `json:"stage"`
			ObjectRef struct {
				Resource, Subresource string
			} `json:"objectRef"`
			User           struct{ Username string } `json:"user"`
			StageTimestamp time.Time                 `json:"stageTimestamp"`
		}
		if json.Unmarshal(lines.Bytes(), &e) != nil || e.StageTimestamp.Before(from) || !e.StageTimestamp.Before(to) {
			continue
		}
		b, ok := users[e.User.Username]
		// A long-running request (a watch, a pod's log) is logged as it starts and as it ends: a watch is
		// counted as it starts (it may outlast the window), anything else as it completes.
		want := "ResponseComplete"
		if e.Verb == "watch" {
			want = "ResponseStarted"
		}
		if !ok || e.Stage != want {
			continue
		}
		r := out[b]
		if r.ByKind == nil {
			r.ByKind = map[string]int{}
		}
		r.Total++
		resource := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			resource += "/" + e.ObjectRef.Subresource
		}
		r.ByKind[e.Verb+" "+resource]++
		switch e.Verb {
		case "create", "update", "patch", "delete", "deletecollection":
			if resource == "leases" {
				r.LeaseWrites++
			} else {
				r.Writes++
			}
		case "watch":
			r.Watches++
		}
		out[b] = r
	}
	return out, lines.Err()
}
