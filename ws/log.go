package ws

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/lesismal/nbio/logging"
)

// nbio logs through one process-wide logger; it is routed to the slog
// logger of the most recent Server, at debug level for nbio's chatter.
var nbioLog atomic.Pointer[slog.Logger]

func init() { logging.SetLogger(nbioLogger{}) }

type nbioLogger struct{}

func (nbioLogger) log(level slog.Level, format string, v ...any) {
	if l := nbioLog.Load(); l != nil {
		l.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "nbio")
	}
}

func (l nbioLogger) Debug(format string, v ...any) { l.log(slog.LevelDebug, format, v...) }
func (l nbioLogger) Info(format string, v ...any)  { l.log(slog.LevelDebug, format, v...) }
func (l nbioLogger) Warn(format string, v ...any)  { l.log(slog.LevelWarn, format, v...) }
func (l nbioLogger) Error(format string, v ...any) { l.log(slog.LevelError, format, v...) }
