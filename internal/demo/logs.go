package demo

import (
	"os"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// QuietClientLogs gives controller-runtime, whose clients a driver of the demo uses, a logger of errors only:
// without one it prints a warning with a stack trace 30 s after the first client is made.
func QuietClientLogs() {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
}
