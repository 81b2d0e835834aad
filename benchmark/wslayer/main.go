// Command wsbench measures candidate WebSocket layers for Parley.
//
// One binary, three modes:
//
//	wsbench -mode server -impl IMPL -addr 127.0.0.1:9001 -ctl 127.0.0.1:9101
//	wsbench -mode client -test idle|tput -url ws://127.0.0.1:9001/ws -ctl http://127.0.0.1:9101 -pid SERVER_PID
//	wsbench -mode report results.jsonl
//
// All traffic goes to 127.0.0.0/8. See README.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	mode := flag.String("mode", "", "server | client | report")
	impl := flag.String("impl", "gorilla", "server implementation: "+strings.Join(implNames(), " | "))
	addr := flag.String("addr", "127.0.0.1:9001", "server: WebSocket listen address (loopback only)")
	maxLife := flag.Duration("maxlife", 10*time.Minute, "server: exit by itself after this long")
	ctl := flag.String("ctl", "127.0.0.1:9101", "server: control listen address; client: control base URL")
	var cc clientConfig
	flag.StringVar(&cc.test, "test", "idle", "client: idle | tput (window, as fast as echoes return) | paced (fixed total -rate)")
	flag.StringVar(&cc.url, "url", "ws://127.0.0.1:9001/ws", "client: server URL")
	flag.IntVar(&cc.pid, "pid", 0, "client: server pid (for /proc/<pid>/status and /proc/<pid>/stat)")
	flag.IntVar(&cc.n, "n", 15000, "client: number of connections")
	flag.DurationVar(&cc.hold, "hold", 10*time.Second, "client idle: how long to hold the idle connections")
	flag.DurationVar(&cc.dur, "dur", 10*time.Second, "client tput: measured duration")
	flag.DurationVar(&cc.warmup, "warmup", 2*time.Second, "client tput: warm-up before measuring")
	flag.Float64Var(&cc.rate, "rate", 30000, "client paced: total messages/s offered across all connections")
	flag.IntVar(&cc.window, "window", 8, "client tput: messages in flight per connection")
	flag.IntVar(&cc.srcIPs, "srcips", 16, "client: number of source addresses 127.0.0.10.. to spread ephemeral ports")
	flag.IntVar(&cc.dialers, "dialers", 64, "client: concurrent dialing goroutines")
	flag.StringVar(&cc.label, "label", "", "client: label written into the result line (defaults to the server impl name)")
	flag.Parse()

	raiseNofile()
	switch *mode {
	case "server":
		if err := runServer(*impl, *addr, *ctl, *maxLife); err != nil {
			log.Fatalf("server %s: %v", *impl, err)
		}
	case "client":
		cc.ctl = *ctl
		if !strings.HasPrefix(cc.ctl, "http") {
			cc.ctl = "http://" + cc.ctl
		}
		if err := runClient(cc); err != nil {
			log.Fatalf("client: %v", err)
		}
	case "report":
		if err := report(flag.Args()); err != nil {
			log.Fatalf("report: %v", err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// raiseNofile sets RLIMIT_NOFILE's soft limit to its hard limit.
func raiseNofile() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Printf("getrlimit: %v", err)
		return
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Printf("setrlimit: %v", err)
	}
}

// procRSS returns VmRSS and VmHWM of pid in bytes, read from /proc/<pid>/status.
func procRSS(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb * 1024
		case "VmHWM:":
			hwm = kb * 1024
		}
	}
	return rss, hwm, nil
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// procCPU returns utime+stime of pid in seconds, read from /proc/<pid>/stat.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// comm (field 2) may contain spaces; fields after the closing paren start at field 3.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return float64(ut+st) / clockTicks, nil
}

// machineBusy returns the CPU seconds all cores spent not idle, from /proc/stat.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are already in user
			continue
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}
