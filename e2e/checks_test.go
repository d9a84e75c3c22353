package e2e

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// stage is what one check runs against: the test server and, in the
// proxied cells, nginx in front of it.
type stage struct {
	srv   *tserver
	proxy *nginx     // nil: the browser reads the server directly
	base  string     // the URL, without path, that the browser opens
	cert  *certFiles // nil over HTTP/1.1
	// proto and clientProto are what the server must see of each request:
	// its own protocol, and the browser's when a proxy is in front.
	proto, clientProto string
}

// setUp starts the stage of cell c; behind nginx the browser goes to site.
func setUp(t *testing.T, c cell, site string) *stage {
	t.Helper()
	var cert *certFiles
	if c.tls {
		cert = makeCert(t)
	}
	if !c.proxy {
		srv := startTestServer(t, serverOpts{cert: cert})
		return &stage{srv: srv, base: srv.base, cert: cert, proto: c.proto()}
	}
	srv := startTestServer(t, serverOpts{heartbeat: heartbeat})
	n := startNginx(t, srv.addr, cert)
	return &stage{srv: srv, proxy: n, base: n.url(site), cert: cert, proto: "HTTP/1.0", clientProto: c.proto()}
}

// checkEncodings has the browser read the encodings stream of package
// cases and compares what the page recorded with what it must: every
// event exactly, no trace of the injection attempts, all on one
// connection. Over HTTP/2 it also reads the response frame by frame from
// the same server or proxy: no hop-by-hop header field.
func checkEncodings(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "default")
	p := openRecorder(t, b, st.base, "/encodings")
	want := cases.Want(b.engine())
	p.waitEvents(t, len(want), eventTimeout)
	compareEvents(t, p.events, want)
	if p.state.Opens != 1 || p.state.Errors != 0 {
		t.Errorf("the page opened %d connections and saw %d errors, want 1 and 0", p.state.Opens, p.state.Errors)
	}

	var refusals []cases.Refusal
	st.srv.call(t, "GET", "/refusals", &refusals)
	if len(refusals) != len(cases.Attempts()) {
		t.Errorf("the server made %d injection attempts, want %d", len(refusals), len(cases.Attempts()))
	}
	for _, r := range refusals {
		if !r.OK {
			t.Errorf("injection attempt %s: Send returned %q, not the refusal expected", r.Name, r.Err)
		}
	}
	checkRequests(t, st.srv.requests(t), "/encodings", st.proto, st.clientProto, nil)

	if c.tls {
		u, err := url.Parse(st.base)
		if err != nil {
			t.Fatal(err)
		}
		checkHTTP2Headers(t, u.Host, "/counter", st.cert)
	}
}

// compareEvents fails the test unless got is want, naming the first
// differences.
func compareEvents(t *testing.T, got, want []cases.Received) {
	t.Helper()
	bad := 0
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Errorf("event %d: the page recorded %v, want %v", i+1, got[i], want[i])
			if bad++; bad == 5 {
				t.Fatal("and so on")
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("the page recorded %d events, want %d; the last ones: %v", len(got), len(want), tail(got, 3))
	}
}

// checkReconnect kills the server under the page's stream (see goAway)
// and starts it again: the browser reconnects with the last event ID, non-ASCII, sent
// back byte for byte, and the count goes on without a gap or a repeat.
func checkReconnect(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "")
	p := openRecorder(t, b, st.base, "/counter")
	p.waitEvents(t, 3, eventTimeout)

	goAway(t, b, c, st.srv)
	p.waitFor(t, "the page to see the server go", eventTimeout, func(p *page) bool {
		return p.state.State == "connecting" && p.state.Errors > 0
	})
	// The browser has no stream now: these are all the events it saw.
	seen := len(p.events)
	st.srv.startAgain(t)
	p.waitEvents(t, seen+3, eventTimeout)

	for i, ev := range p.events {
		want := cases.Received{Type: "message", ID: cases.CounterID(i + 1), Data: strconv.Itoa(i + 1)}
		if ev != want {
			t.Fatalf("event %d is %v, want %v (the server went away after event %d)", i+1, ev, want, seen)
		}
	}
	if p.state.Opens != 2 || p.state.State != "open" {
		t.Errorf("the page is %s after %d opens, want open after 2", p.state.State, p.state.Opens)
	}
	checkRequests(t, st.srv.requests(t), "/counter", st.proto, st.clientProto, []byte(cases.CounterID(seen)))
}

// goAway takes the server away under the page's stream: it kills it, as
// a crash would. WebKit over HTTP/2 does not notice a server that dies
// (its stream stays open, for 20 s at least, though the kernel closed the
// connection), so there the server shuts down gracefully instead, which
// ends the streams properly; the resume that follows is the same.
func goAway(t *testing.T, b browser, c cell, srv *tserver) {
	t.Helper()
	if b.engine() == cases.WebKit && c.tls {
		t.Log("WebKit over HTTP/2 misses a crashed server: shutting it down gracefully instead")
		srv.interrupt(t)
		return
	}
	srv.crash(t)
}

// checkHub has the page read a hub's topic: it replays what the browser
// missed while it was away, and, once the server has been killed and
// started again with an empty history, sends the reset event instead.
func checkHub(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "")
	p := openRecorder(t, b, st.base, "/hub")
	checkReplay(t, p, st)

	last := p.events[len(p.events)-1].ID
	goAway(t, b, c, st.srv)
	p.waitFor(t, "the page to see the server go", eventTimeout, func(p *page) bool {
		return p.state.State == "connecting" && p.state.Errors > 0
	})
	st.srv.startAgain(t)
	p.waitEvents(t, len(p.events)+1, eventTimeout)
	reset := p.events[len(p.events)-1]
	if reset.Type != "sse-reset" || reset.ID != last || reset.Data == "" {
		t.Fatalf("after a restart the page recorded %v, want an sse-reset event with a reason, and the ID %q still in force", reset, last)
	}
	st.srv.waitSubscribers(t, 1)
	n := len(p.events)
	st.srv.publish(t, 2)
	p.waitEvents(t, n+2, liveTimeout)
	checkHubEvents(t, p.events[n:], 1)
	checkRequests(t, st.srv.requests(t), "/hub", st.proto, st.clientProto, []byte(last))
}

// checkHubReplay is the replay half of checkHub, through a proxy.
func checkHubReplay(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "default")
	checkReplay(t, openRecorder(t, b, st.base, "/hub"), st)
}

// checkReplay publishes three events to the page's hub stream, ends the
// stream from the server's side, publishes three more before the browser
// is back, and one once it is: the page must record all seven in order,
// the three it missed replayed because it sent the last ID it had.
func checkReplay(t *testing.T, p *page, st *stage) {
	t.Helper()
	st.srv.waitSubscribers(t, 1)
	st.srv.publish(t, 3)
	p.waitEvents(t, 3, liveTimeout)
	st.srv.drop(t)
	// The browser waits the retry delay before it reconnects; the
	// requests the server records show that it came after these.
	st.srv.publish(t, 3)
	p.waitEvents(t, 6, eventTimeout)
	st.srv.waitSubscribers(t, 1)
	st.srv.publish(t, 1)
	p.waitEvents(t, 7, liveTimeout)

	checkHubEvents(t, p.events, 1)
	if t.Failed() {
		return
	}
	lastID := p.events[2].ID
	var hub []cases.Request
	for _, r := range st.srv.requests(t) {
		if r.Path == "/hub" {
			hub = append(hub, r)
		}
	}
	if len(hub) != 2 || hub[1].Published != 6 {
		t.Fatalf("requests for /hub = %+v, want two, the second after 6 events were published", hub)
	}
	checkRequests(t, hub[:1], "/hub", st.proto, st.clientProto, nil)
	checkRequests(t, hub[1:], "/hub", st.proto, st.clientProto, []byte(lastID))
}

// checkHubEvents fails the test unless evs are the hub's messages "hub
// first", "hub first+1", ..., in order, with IDs that go up.
func checkHubEvents(t *testing.T, evs []cases.Received, first int) {
	t.Helper()
	var prev uint64
	for i, ev := range evs {
		data := "hub " + strconv.Itoa(first+i)
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if ev.Type != "message" || ev.Data != data || err != nil || id <= prev {
			t.Errorf("event %d: the page recorded %v, want the message %q with an ID above %d; all: %v", i+1, ev, data, prev, evs)
			return
		}
		prev = id
	}
}

// lockstep publishes n events one at a time, each only once the page has
// recorded the one before: anything that holds events back (a buffering
// proxy, a compressor waiting for more) stalls it.
func lockstep(t *testing.T, p *page, srv *tserver, n int) {
	t.Helper()
	srv.waitSubscribers(t, 1)
	start := len(p.events)
	for i := range n {
		data := srv.publish(t, 1)
		p.waitFor(t, fmt.Sprintf("the published event %q, live", data[0]), liveTimeout,
			func(p *page) bool { return len(p.events) > start+i })
		if got := p.events[start+i]; got.Data != data[0] || got.Type != "message" {
			t.Fatalf("the page recorded %v, want the message %q", got, data[0])
		}
	}
}

// checkLive: behind nginx with its defaults, proxy buffering on, each
// event reaches the page as soon as it is published.
func checkLive(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "default")
	p := openRecorder(t, b, st.base, "/hub")
	lockstep(t, p, st.srv, 5)
	checkRequests(t, st.srv.requests(t), "/hub", st.proto, st.clientProto, nil)
}

// checkHeartbeat: behind nginx with a read timeout shorter than the
// silence between two events, the heartbeats keep the stream open: the
// page gets both events on one connection.
func checkHeartbeat(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "timeout")
	p := openRecorder(t, b, st.base, "/hub")
	lockstep(t, p, st.srv, 1)
	time.Sleep(3 * proxyReadTimeout)
	lockstep(t, p, st.srv, 1)
	p.read(t)
	if p.state.Opens != 1 || p.state.Errors != 0 {
		t.Errorf("over %v of silence behind a %v read timeout, the page opened %d connections and saw %d errors, want 1 and 0",
			3*proxyReadTimeout, proxyReadTimeout, p.state.Opens, p.state.Errors)
	}
	reqs := st.srv.requests(t)
	if len(reqs) != 1 {
		t.Errorf("the server saw %d requests, want 1: %+v", len(reqs), reqs)
	}
	checkRequests(t, reqs, "/hub", st.proto, st.clientProto, nil)
}

// checkGzip: behind nginx compressing text/event-stream, the events still
// reach the page one by one; nginx's log shows that it did compress the
// stream, and over which protocol.
func checkGzip(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "gzip")
	p := openRecorder(t, b, st.base, "/hub")
	lockstep(t, p, st.srv, 5)
	// nginx logs a request when it ends.
	st.srv.drop(t)
	_, port, _ := strings.Cut(st.proxy.sites["gzip"], ":")
	line := st.proxy.waitLog(t, eventTimeout, port+" ", `"GET /hub `, "encoding=")
	if want := port + " " + c.proto() + ` "GET /hub ` + c.proto() + `" 200 encoding=gzip`; line != want {
		t.Errorf("nginx logged the stream as %q, want %q", line, want)
	}
}
