package e2e

import (
	"testing"
	"time"
)

const (
	// counterInterval is the test server's time between counter events.
	counterInterval = 200 * time.Millisecond
	// retry is the reconnection delay the test server sends browsers.
	retry = 500 * time.Millisecond
	// heartbeat is the test server's heartbeat behind nginx: well inside
	// proxyReadTimeout.
	heartbeat = 250 * time.Millisecond
	// eventTimeout bounds a wait for events or a state of the page. It
	// covers a browser's own reconnection delay (3 s in Chromium and
	// WebKit, 5 s in Firefox) for servers that send none, on a loaded
	// machine.
	eventTimeout = 20 * time.Second
	// liveTimeout bounds the wait for one event that was just published.
	// A proxy that buffers would hold it for good, so a generous bound
	// still tells the two apart.
	liveTimeout = 5 * time.Second
)

// cell is one protocol and proxy combination of the matrix.
type cell struct {
	name  string // h1 or h2
	tls   bool   // HTTPS with HTTP/2, else plain HTTP/1.1
	proxy bool   // through nginx
}

// proto is the protocol the browser speaks, as Go's server names it.
func (c cell) proto() string {
	if c.tls {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// check is one check of a cell, the same in every engine.
type check struct {
	name string
	run  func(t *testing.T, b browser, c cell)
}

// TestBrowsers runs every check in every engine: engine x protocol x proxy.
// Each engine's browser starts once and its page goes from check to check;
// the engines run in parallel.
//
//	TestBrowsers/<engine>/<h1|h2>/<direct|nginx>/<check>
func TestBrowsers(t *testing.T) {
	direct := []check{
		{"encodings", checkEncodings},
		{"reconnect", checkReconnect},
		{"hub", checkHub},
		{"limit", checkLimit},
	}
	proxied := []check{
		{"encodings", checkEncodings},
		{"live", checkLive},
		{"heartbeat", checkHeartbeat},
		{"gzip", checkGzip},
		{"hub", checkHubReplay},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			b := eng.start(t)
			t.Run("h1", func(t *testing.T) {
				t.Run("direct", func(t *testing.T) {
					for _, ex := range examples {
						t.Run("example-"+ex.name, func(t *testing.T) { checkExample(t, b, ex) })
					}
					t.Run("example-llm", func(t *testing.T) { checkLLM(t, b) })
					t.Run("example-feed", func(t *testing.T) { checkFeed(t, b) })
					runChecks(t, b, cell{name: "h1"}, direct)
				})
				t.Run("nginx", func(t *testing.T) { runChecks(t, b, cell{name: "h1", proxy: true}, proxied) })
			})
			t.Run("h2", func(t *testing.T) {
				t.Run("direct", func(t *testing.T) { runChecks(t, b, cell{name: "h2", tls: true}, direct) })
				t.Run("nginx", func(t *testing.T) { runChecks(t, b, cell{name: "h2", tls: true, proxy: true}, proxied) })
			})
		})
	}
}

func runChecks(t *testing.T, b browser, c cell, checks []check) {
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) { ch.run(t, b, c) })
	}
}
