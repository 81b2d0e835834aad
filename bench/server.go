package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a parleyd started by the bench for a run.
type Server struct {
	URL     string // HTTP listener
	Pid     int
	DataDir string
	Note    string // how it was started, for the report
	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
}

// StartServer runs the parleyd binary bin on a free loopback port with a
// fresh data directory, bcrypt cost 4 and two-hour access tokens (so a
// long run needs no refresh), logging to logPath; env adds or overrides
// PARLEY_* settings. It returns once /health answers.
func StartServer(bin, logPath string, env []string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "parley-bench-data-")
	if err != nil {
		return nil, err
	}
	settings := []string{
		"PARLEY_HTTP_ADDR=" + addr,
		"PARLEY_CHAT_ADDR=",
		"PARLEY_PRESENCE_ADDR=",
		"PARLEY_METRICS_ADDR=", // measured from /proc: no port to collide with another server's
		"PARLEY_DATA_DIR=" + dir,
		"PARLEY_BCRYPT_COST=4",
		"PARLEY_ACCESS_TTL=2h",
		"PARLEY_LOG_LEVEL=warn",
		// A load test is one address hammering the server: the per-user
		// and per-address limits are off.
		"PARLEY_RATE_MESSAGES_PER_SEC=0",
		"PARLEY_RATE_HISTORY_PER_SEC=0",
		"PARLEY_RATE_GROUPS_PER_MIN=0",
		"PARLEY_RATE_REGISTER_PER_MIN=0",
		"PARLEY_RATE_CONNECTIONS_PER_MIN=0",
		"PARLEY_LOGIN_MAX_FAILURES=0",
	}
	settings = append(settings, env...)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), settings...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + addr, Pid: cmd.Process.Pid, DataDir: dir, cmd: cmd, log: logf, exited: make(chan struct{})}
	s.Note = "started by parley-bench: " + bin + " with " + strings.Join(settings[3:], " ") + " (data dir fresh, log " + logPath + ")"
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			s.Stop()
			return nil, fmt.Errorf("parleyd exited at start; see %s", logPath)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("parleyd not healthy after 30s; see %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the server (SIGTERM, SIGKILL after 15 s) and removes its data.
func (s *Server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.log.Close()
	os.RemoveAll(s.DataDir)
}

// BuildServer builds ./cmd/parleyd of the module at root into dir.
func BuildServer(root, dir string) (string, error) {
	bin := filepath.Join(dir, "parleyd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/parleyd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/parleyd: %v\n%s", err, out)
	}
	return bin, nil
}
