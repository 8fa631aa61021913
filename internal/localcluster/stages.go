package localcluster

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
)

// KwokStageFiles are kwok's own stage files (fast node initialisation, heartbeat with leases, pod ready,
// complete and delete), from the module cache of the kwok version hack/k8stools builds. kwok refuses to start
// without stages. A Job's pod completes by kwok's general stage: 1 to 5 s after it is ready, or after the
// delay its annotations pod-complete.stage.kwok.x-k8s.io/delay and …/jitter-delay give (kwok waits the
// smaller), so that a test can hold a Job's pod running; the fast stage completes it at once.
func KwokStageFiles(root string) ([]string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "sigs.k8s.io/kwok")
	cmd.Dir = filepath.Join(root, "hack", "k8stools")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locating kwok in the module cache: %w", err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("locating kwok in the module cache: %q", out)
	}
	stage := filepath.Join(mod.Dir, "kustomize", "stage")
	return []string{
		filepath.Join(stage, "node", "fast", "node-initialize.yaml"),
		filepath.Join(stage, "node", "heartbeat-with-lease", "node-heartbeat-with-lease.yaml"),
		filepath.Join(stage, "pod", "fast", "pod-ready.yaml"),
		filepath.Join(stage, "pod", "general", "pod-complete.yaml"),
		filepath.Join(stage, "pod", "fast", "pod-delete.yaml"),
	}, nil
}
