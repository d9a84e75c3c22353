package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// dashboardKeys are the metrics the dashboard example's page shows.
var dashboardKeys = []string{"uptime", "heap", "goroutines", "requests"}

// dashboardState is what the dashboard page shows.
type dashboardState struct {
	Values  map[string]string `json:"values"`  // metric -> text shown, "–" before the first value
	State   string            `json:"state"`   // connecting, open, reconnecting or closed
	Updates int               `json:"updates"` // metric events received
	Resets  int               `json:"resets"`  // sse-reset events received
}

// readDashboard reads the dashboard page.
func readDashboard(t *testing.T, b browser) dashboardState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	js, err := b.eval(ctx, `JSON.stringify({
		values: Object.fromEntries(["uptime", "heap", "goroutines", "requests"].map(
			(k) => [k, document.getElementById(k).textContent])),
		state: document.getElementById("state").textContent,
		updates: window.updates || 0,
		resets: window.resets || 0,
	})`)
	if err != nil {
		t.Fatalf("reading the dashboard: %v", err)
	}
	var s dashboardState
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("reading the dashboard: %v in %.200q", err, js)
	}
	return s
}

// waitDashboard reads the page until cond holds, failing the test after
// timeout, and returns what it shows then.
func waitDashboard(t *testing.T, b browser, what string, timeout time.Duration, cond func(dashboardState) bool) dashboardState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := readDashboard(t, b)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; the page shows %+v", timeout, what, s)
		}
		time.Sleep(pollEvery)
	}
}

// shown reports whether the page shows a value for every metric.
func (s dashboardState) shown() bool {
	for _, k := range dashboardKeys {
		if v := s.Values[k]; v == "" || v == "–" {
			return false
		}
	}
	return true
}

// TestDashboard runs the dashboard example with an interval of an hour, so
// that it samples its metrics once, at start, and has each engine open its
// page late: the page must show every metric at once, which only the hub's
// latest values handed to a new client explain, then a new request count
// live, and after the server restarts the new server's values, without a
// reset.
func TestDashboard(t *testing.T) {
	bin := buildExampleOnce(t, "dashboard")
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			b := eng.start(t)
			addr := freeAddr(t)
			args := []string{"-addr", addr, "-interval", time.Hour.String()}
			srv := startServer(t, addr, bin, args...)
			client := &http.Client{Timeout: 5 * time.Second}
			healthz := func() {
				t.Helper()
				resp, err := client.Get("http://" + addr + "/healthz")
				if err != nil {
					t.Fatalf("GET /healthz: %v", err)
				}
				resp.Body.Close()
			}
			healthz()

			// Opened after the only sample: its values come from the hub.
			ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
			defer cancel()
			if err := b.navigate(ctx, "http://"+addr+"/"); err != nil {
				t.Fatalf("opening the dashboard: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
				defer cancel()
				if err := b.navigate(ctx, "about:blank"); err != nil {
					t.Errorf("leaving the dashboard: %v", err)
				}
			})
			s := waitDashboard(t, b, "every metric on a page opened late", eventTimeout,
				func(s dashboardState) bool { return s.State == "open" && s.shown() })
			before, err := strconv.Atoi(s.Values["requests"])
			if err != nil {
				t.Fatalf("requests shows %q, want a number", s.Values["requests"])
			}

			healthz()
			waitDashboard(t, b, fmt.Sprintf("the request count to pass %d live", before), liveTimeout,
				func(s dashboardState) bool {
					n, err := strconv.Atoi(s.Values["requests"])
					return err == nil && n > before
				})

			// The restarted server does not know the page's last event ID:
			// it hands over its latest values instead of a reset.
			srv.interrupt(t)
			s = waitDashboard(t, b, "the page to see the server go", eventTimeout,
				func(s dashboardState) bool { return s.State == "reconnecting" })
			srv = startServer(t, addr, bin, args...)
			s = waitDashboard(t, b, "the restarted server's values", eventTimeout,
				func(next dashboardState) bool {
					return next.State == "open" && next.Updates >= s.Updates+len(dashboardKeys)
				})
			if s.Resets != 0 {
				t.Errorf("the page got %d sse-reset events, want none: a dashboard reconnects to the latest values", s.Resets)
			}
		})
	}
}
