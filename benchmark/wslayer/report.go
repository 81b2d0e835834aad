package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// report reads result lines (JSON, one per client run) and prints Markdown tables.
func report(files []string) error {
	var idle, tput, paced []result
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var r result
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue
			}
			switch r.Test {
			case "idle":
				idle = append(idle, r)
			case "tput":
				tput = append(tput, r)
			case "paced":
				paced = append(paced, r)
			}
		}
		fh.Close()
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	fmt.Println("### Idle connections (server side)")
	fmt.Println()
	fmt.Println("| candidate | conns ok/asked | connect s | RSS base MiB | RSS with conns MiB | **bytes/conn** | goroutines base → with conns | server-counted conns |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range idle {
		fmt.Printf("| %s | %d/%d | %.1f | %s | %s | **%.0f** | %d → %d | %d |\n",
			r.Label, r.OK, r.Conns, r.ConnectSecs, mib(r.BaseRSS), mib(r.RSS), r.BytesPerConn,
			r.BaseGoroutines, r.Goroutines, r.ServerConns)
	}
	fmt.Println()
	tputTable("### Throughput, saturated (echo, window 8 in flight per conn, as fast as echoes return)", tput)
	tputTable("### Paced load (fixed offered rate, one message in flight per conn)", paced)
	for _, r := range append(append(idle, tput...), paced...) {
		if r.Failed > 0 || r.BadEchoes > 0 {
			fmt.Printf("\n- %s/%s: %d failed connections (first error: %s), %d bad echoes\n", r.Label, r.Test, r.Failed, r.FirstErr, r.BadEchoes)
		}
	}
	return nil
}

func tputTable(title string, tput []result) {
	if len(tput) == 0 {
		return
	}
	mib := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
	fmt.Println(title)
	fmt.Println()
	fmt.Println("| candidate | conns ok/asked | **msgs/s** | server CPU s | **server µs/msg** | server cores used | client µs/msg | client cores used | other processes' cores | server goroutines | server RSS MiB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range tput {
		fmt.Printf("| %s | %d/%d | **%.0f** | %.2f | **%.2f** | %.2f | %.2f | %.2f | %.2f | %d | %s |\n",
			r.Label, r.OK, r.Conns, r.MsgsPerSec, r.ServerCPU, r.ServerUsPerMsg, r.ServerCPU/r.Secs,
			r.ClientUsPerMsg, r.ClientCPU/r.Secs, r.OtherCPU/r.Secs, r.Goroutines, mib(r.RSS))
	}
	fmt.Println()
}
