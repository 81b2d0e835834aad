package bench

import (
	"os"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	page := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 3.3554432e+07
parley_connections{kind="chat"} 3
`
	s, err := parseMetrics(strings.NewReader(page))
	if err != nil || s.CPUSeconds != 12.5 || s.RSSBytes != 32<<20 {
		t.Fatalf("got %+v %v", s, err)
	}
	if _, err := parseMetrics(strings.NewReader("up 1\n")); err == nil {
		t.Fatal("a page without process metrics: got no error")
	}
}

func TestProcProbe(t *testing.T) {
	s, err := ProcProbe{Pid: os.Getpid()}.Sample()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSSBytes <= 0 {
		t.Fatalf("got RSS %d", s.RSSBytes)
	}
}
