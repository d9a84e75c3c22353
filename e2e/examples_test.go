package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// exampleInterval is the examples' time between events in these tests.
const exampleInterval = 300 * time.Millisecond

// examples are the example servers under ../examples that the browsers
// read, each with what its page must show. An example without Go files
// is skipped, so one can be listed before it exists.
var examples = []example{
	{"nethttp", checkHello, true},
	{"chi", checkHello, true},
	{"gin", checkHello, true},
	{"echo", checkHello, true},
	{"echo5", checkHello, true},
	{"broadcast", checkTicks, false},
}

// example is one example server and the check of the events its page
// shows. check gets the events in order, the index of the first one after
// each restart, and the server's address.
type example struct {
	name  string
	check func(evs []cases.Received, restarts []int, addr string) error
	// negotiates: /events answers "ok" to a client that does not ask for
	// an event stream.
	negotiates bool
}

// checkHello checks the stream of the demo handler: message events with
// data "hello" and IDs 1, 2, 3, ..., going on from the last ID after each
// restart because the browser resends it and the server resumes from it.
func checkHello(evs []cases.Received, _ []int, _ string) error {
	for i, ev := range evs {
		want := cases.Received{Type: "message", ID: strconv.Itoa(i + 1), Data: "hello"}
		if ev != want {
			return fmt.Errorf("event %d is %v, want %v", i+1, ev, want)
		}
	}
	return nil
}

// tickData is the data of the broadcast example's events.
var tickData = regexp.MustCompile(`^tick (\d+) from (\S+)$`)

// checkTicks checks the broadcast example's hub: message events "tick n
// from addr", n going up by one from event to event and the ID going up.
// The hub's history is in memory, so a restart starts the count over and
// the browser gets a reset (which the demo page does not record).
func checkTicks(evs []cases.Received, restarts []int, addr string) error {
	var prevN int
	var prevID uint64
	for i, ev := range evs {
		m := tickData.FindStringSubmatch(ev.Data)
		if ev.Type != "message" || m == nil || m[2] != addr {
			return fmt.Errorf("event %d is %v, want a message \"tick n from %s\"", i+1, ev, addr)
		}
		n, _ := strconv.Atoi(m[1])
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("event %d is %v, want a numeric ID", i+1, ev)
		}
		if i > 0 && !slices.Contains(restarts, i) && (n != prevN+1 || id <= prevID) {
			return fmt.Errorf("event %d is %v after %v: a gap or a repeat", i+1, ev, evs[i-1])
		}
		prevN, prevID = n, id
	}
	return nil
}

var (
	exampleBuilds sync.Map   // name -> *exampleBuild
	buildMu       sync.Mutex // one go build at a time
)

// exampleBuild is the outcome of building one example.
type exampleBuild struct {
	once sync.Once
	bin  string // "" if the example has no Go files
	err  error
}

// buildExampleOnce builds ../examples/name once per test run. Builds run
// one at a time (buildMu): parallel ones would compile the shared
// dependencies twice.
func buildExampleOnce(t *testing.T, name string) string {
	t.Helper()
	v, _ := exampleBuilds.LoadOrStore(name, new(exampleBuild))
	b := v.(*exampleBuild)
	b.once.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			b.err = err
			return
		}
		if files, _ := filepath.Glob(filepath.Join(root, "examples", name, "*.go")); len(files) == 0 {
			return
		}
		buildMu.Lock()
		defer buildMu.Unlock()
		b.bin, b.err = goBuild(context.Background(), root, "./examples/"+name, binDir)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	if b.bin == "" {
		t.Skipf("examples/%s does not exist (no Go files)", name)
	}
	return b.bin
}

// checkExample runs the example ex and has the browser read its page: the
// events arrive live, and after the server goes away and comes back on
// the same port (once as a crash, once as a Ctrl-C) they go on.
func checkExample(t *testing.T, b browser, ex example) {
	bin := buildExampleOnce(t, ex.name)
	addr := freeAddr(t)
	args := []string{"-addr", addr, "-interval", exampleInterval.String()}
	srv := startServer(t, addr, bin, args...)
	if ex.negotiates {
		checkPlainGET(t, addr)
	}

	p := openDemo(t, b, "http://"+addr+"/")
	var restarts []int
	check := func(when string) {
		t.Helper()
		if err := ex.check(p.events, restarts, addr); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if n := len(p.events); n > 0 && p.state.Last != p.events[n-1].ID {
			t.Errorf("%s: page shows last event ID %q, want %q", when, p.state.Last, p.events[n-1].ID)
		}
	}
	p.waitEvents(t, 3, eventTimeout)
	check("first connection")
	if p.state.State != "open" {
		t.Errorf("page shows connection state %q with %d events, want \"open\"", p.state.State, len(p.events))
	}

	for _, stop := range []struct {
		how  string
		stop func(*server, *testing.T)
	}{
		{"a crash", (*server).crash},
		{"an interrupt", (*server).interrupt},
	} {
		stop.stop(srv, t)
		p.waitFor(t, "the page to see the server go after "+stop.how, eventTimeout,
			func(p *page) bool { return p.state.State == "reconnecting" })
		// The browser has no stream now, so these are all the events it
		// will have seen before the restart.
		seen := len(p.events)
		restarts = append(restarts, seen)
		srv = startServer(t, addr, bin, args...)
		p.waitEvents(t, seen+2, eventTimeout)
		check("after " + stop.how + " and a restart")
		if p.state.State != "open" {
			t.Errorf("after %s and a restart, page shows connection state %q, want \"open\"", stop.how, p.state.State)
		}
	}
}
