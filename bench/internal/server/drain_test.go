package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownDrains checks POST /shutdown of a server started with
// DrainEnv: a stream ends within the window with a retry hint, and the
// answer comes once Shutdown has returned, about the window later.
func TestShutdownDrains(t *testing.T) {
	const window = 300 * time.Millisecond
	t.Setenv(DrainEnv, window.String())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, "eventwire", ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan string, 1)
	go func() {
		var retry string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "retry:"); ok {
				retry = strings.TrimSpace(v)
			}
		}
		ended <- retry
	}()

	start := time.Now()
	sresp, err := http.Post(base+"/shutdown", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	var res ShutdownResult
	if err := json.NewDecoder(sresp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.Err != "" {
		t.Errorf("Shutdown: %s", res.Err)
	}
	if d := time.Duration(res.ElapsedNs); d <= 0 || d > window+time.Second || d > took {
		t.Errorf("Shutdown took %v by the server's count, %v by the client's; want at most %v", d, took, window+time.Second)
	}
	select {
	case retry := <-ended:
		if retry == "" {
			t.Error("the stream ended without a retry hint")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
	}
}
