package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Requests are counted from the API server's audit log: per binary, in the window, a watch once as it starts and
// a pod's log (also long-running) once as it completes, Lease renewals apart from the other writes.
func TestCountRequests(t *testing.T) {
	const log = `{"verb":"list","stage":"ResponseComplete","objectRef":{"resource":"pods"},"user":{"username":"sa:cm"},"stageTimestamp":"2026-12-04T10:00:01Z"}
{"verb":"watch","stage":"ResponseStarted","objectRef":{"resource":"pods"},"user":{"username":"sa:cm"},"stageTimestamp":"2026-12-04T10:00:02Z"}
{"verb":"watch","stage":"ResponseComplete","objectRef":{"resource":"pods"},"user":{"username":"sa:cm"},"stageTimestamp":"2026-12-04T10:00:30Z"}
{"verb":"update","stage":"ResponseComplete","objectRef":{"resource":"leases"},"user":{"username":"sa:cm"},"stageTimestamp":"2026-12-04T10:00:03Z"}
{"verb":"get","stage":"ResponseStarted","objectRef":{"resource":"pods","subresource":"log"},"user":{"username":"sa:um"},"stageTimestamp":"2026-12-04T10:00:03Z"}
{"verb":"get","stage":"ResponseComplete","objectRef":{"resource":"pods","subresource":"log"},"user":{"username":"sa:um"},"stageTimestamp":"2026-12-04T10:00:04Z"}
{"verb":"patch","stage":"ResponseComplete","objectRef":{"resource":"storageosclusters","subresource":"status"},"user":{"username":"sa:cm"},"stageTimestamp":"2026-12-04T10:00:04Z"}
{"verb":"get","stage":"ResponseComplete","objectRef":{"resource":"leases"},"user":{"username":"sa:um"},"stageTimestamp":"2026-12-04T10:00:05Z"}
{"verb":"patch","stage":"ResponseComplete","objectRef":{"resource":"deployments"},"user":{"username":"admin"},"stageTimestamp":"2026-12-04T10:00:05Z"}
{"verb":"patch","stage":"ResponseComplete","objectRef":{"resource":"deployments"},"user":{"username":"sa:um"},"stageTimestamp":"2026-12-04T10:01:00Z"}
not json
`
	from := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	got, err := countRequests(strings.NewReader(log), map[string]string{"sa:cm": "cluster-manager", "sa:um": "upgrade-manager"},
		from, from.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, map[string]Requests{
		"cluster-manager": {Total: 4, Writes: 1, LeaseWrites: 1, Watches: 1, ByKind: map[string]int{"list pods": 1, "watch pods": 1,
			"update leases": 1, "patch storageosclusters/status": 1}},
		"upgrade-manager": {Total: 2, ByKind: map[string]int{"get leases": 1, "get pods/log": 1}},
	}, got)
}
