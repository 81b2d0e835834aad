// Package testserver runs the real parleyd binary for tests in other
// packages: it builds cmd/parleyd once per test binary, starts it on port 0
// in a temporary data directory, and reads the bound addresses from the
// "parleyd started" line of its log.
package testserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/parleyd (once) and returns the path of the binary.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func build() (string, error) {
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "parleyd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "parleyd")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/parleyd")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/parleyd: %v\n%s", err, out)
		}
	})
	return binPath, buildErr
}

// Server is a running parleyd process.
type Server struct {
	cmd     *exec.Cmd
	DataDir string
	// HTTP, Chat, Presence and Metrics are host:port of the listeners.
	HTTP, Chat, Presence, Metrics string
	logMu                         sync.Mutex
	logs                          strings.Builder
	exited                        chan struct{}
	exitErr                       error
	killOnLog                     string
	killed                        bool // by KillOnLog; set before exited closes
}

// Options configure Start.
type Options struct {
	// DataDir to use; default a new t.TempDir().
	DataDir string
	// Env holds extra PARLEY_* settings.
	Env map[string]string
	// Args are extra flags.
	Args []string
	// KillOnLog, when set, kills the server with SIGKILL as soon as a log
	// line contains it; Start then returns the killed server.
	KillOnLog string
}

// Start runs parleyd and waits until its listeners are up. The process is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s, err := Launch(opts)
	if s != nil {
		t.Cleanup(func() {
			s.Stop()
			if t.Failed() {
				t.Logf("parleyd log (tail):\n%s", s.tail(40))
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Launch is Start for code without a testing.TB (a TestMain, for
// examples): opts.DataDir must be given, and the caller stops the server.
// On an error after the process started, the server is returned too.
func Launch(opts Options) (*Server, error) {
	bin, err := build()
	if err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, fmt.Errorf("testserver.Launch needs a data directory")
	}
	env := map[string]string{
		"PARLEY_HTTP_ADDR":     "127.0.0.1:0",
		"PARLEY_CHAT_ADDR":     "127.0.0.1:0",
		"PARLEY_PRESENCE_ADDR": "127.0.0.1:0",
		"PARLEY_METRICS_ADDR":  "127.0.0.1:0",
		"PARLEY_DATA_DIR":      opts.DataDir,
		"PARLEY_BCRYPT_COST":   "4",
		"PARLEY_LOG_LEVEL":     "info",
		"PARLEY_LOG_FORMAT":    "json", // readLog reads it
		// Limits are off unless a test sets them.
		"PARLEY_RATE_MESSAGES_PER_SEC":    "0",
		"PARLEY_RATE_HISTORY_PER_SEC":     "0",
		"PARLEY_RATE_ACKS_PER_SEC":        "0",
		"PARLEY_RATE_GROUPS_PER_MIN":      "0",
		"PARLEY_RATE_REGISTER_PER_MIN":    "0",
		"PARLEY_RATE_CONNECTIONS_PER_MIN": "0",
		"PARLEY_LOGIN_MAX_FAILURES":       "0",
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	cmd := exec.Command(bin, opts.Args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, DataDir: opts.DataDir, exited: make(chan struct{}), killOnLog: opts.KillOnLog}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting parleyd: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		// Wait closes the pipe, so it waits until the log has been read to
		// its end: the last lines a stopping server writes are not lost.
		s.readLog(stderr, ready)
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	select {
	case <-ready:
		return s, nil
	case <-s.exited:
		if s.killed {
			return s, nil
		}
		return s, fmt.Errorf("parleyd exited before it was ready: %v\n%s", s.exitErr, s.Logs())
	case <-time.After(30 * time.Second):
		return s, fmt.Errorf("parleyd not ready after 30s\n%s", s.Logs())
	}
}

// readLog keeps the log and signals ready on "parleyd started".
func (s *Server) readLog(r io.Reader, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	signaled := false
	for sc.Scan() {
		line := sc.Text()
		s.logMu.Lock()
		s.logs.WriteString(line + "\n")
		s.logMu.Unlock()
		if s.killOnLog != "" && !s.killed && strings.Contains(line, s.killOnLog) {
			s.killed = true
			s.cmd.Process.Signal(syscall.SIGKILL)
		}
		var rec struct {
			Msg       string            `json:"msg"`
			Listeners map[string]string `json:"listeners"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Msg == "parleyd started" && !signaled {
			s.HTTP, s.Chat, s.Presence, s.Metrics = rec.Listeners["http"], rec.Listeners["chat"], rec.Listeners["presence"], rec.Listeners["metrics"]
			signaled = true
			close(ready)
		}
	}
}

// URL is the base URL of the HTTP listener.
func (s *Server) URL() string { return "http://" + s.HTTP }

// Logs returns everything the server has logged so far.
func (s *Server) Logs() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
}

func (s *Server) tail(n int) string {
	lines := strings.Split(s.Logs(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Kill stops the server at once with SIGKILL, as a crash would.
func (s *Server) Kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// Stop asks the server to shut down (SIGTERM) and returns its exit error;
// after 15 seconds it is killed.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
		return s.exitErr
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
		return fmt.Errorf("parleyd did not stop within 15s")
	}
	return s.exitErr
}

// Exited is closed when the process has ended.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// WaitReady waits until GET /health answers, for a server that was
// restarted out of band.
func WaitReady(ctx context.Context, check func(context.Context) error) error {
	for {
		if err := check(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
