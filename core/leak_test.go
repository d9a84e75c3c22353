package sse

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// leakGrace is how long checkNoLeaks waits for goroutines to end: closing
// a connection ends its goroutines soon after, not at once.
const leakGrace = 2 * time.Second

// checkNoLeaks fails t if a goroutine started during the test is still
// running when the test ends, printing the stacks of those left over.
//
// Call it first in a test: cleanups run last-registered first, so the
// servers, connections and clients the test closes in its own cleanups are
// closed before the check. Goroutines that were running before the call are
// not checked, so tests that use it must not run in parallel with tests
// that start goroutines.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	before := goroutineStacks()
	t.Cleanup(func() {
		if left := leftoverGoroutines(before, leakGrace); len(left) > 0 {
			t.Errorf("%d goroutine(s) still running %v after the test ended:\n\n%s",
				len(left), leakGrace, strings.Join(left, "\n\n"))
		}
	})
}

// leftoverGoroutines polls for up to within until every goroutine that is
// not in before and not ignorable has ended, and returns the stacks of
// those still running.
func leftoverGoroutines(before map[int64]string, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		var left []string
		for id, stack := range goroutineStacks() {
			if _, old := before[id]; !old && !ignorableGoroutine(stack) {
				left = append(left, stack)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			slices.Sort(left)
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutineStacks returns the stack of every goroutine, keyed by its ID.
// Goroutine IDs are never reused, so an ID identifies one goroutine.
func goroutineStacks() map[int64]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := make(map[int64]string)
	for _, stack := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		header, _, _ := strings.Cut(stack, "\n") // goroutine 7 [chan receive]:
		rest, ok := strings.CutPrefix(header, "goroutine ")
		if !ok {
			continue
		}
		idText, _, _ := strings.Cut(rest, " ")
		if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
			stacks[id] = stack
		}
	}
	return stacks
}

// ignoredGoroutines are the functions that goroutines the test does not
// own start in: the test framework's, the runtime's signal handling, and
// an HTTP client's connections, which outlive a request by design until
// the client closes its idle connections.
var ignoredGoroutines = []string{
	"testing.",
	"runtime.ensureSigM",
	"os/signal.signal_recv",
	"os/signal.loop",
	"net/http.(*persistConn).readLoop",
	"net/http.(*persistConn).writeLoop",
	"net/http.(*http2ClientConn).readLoop",
}

// ignorableGoroutine reports whether the goroutine with this stack started
// in one of ignoredGoroutines.
func ignorableGoroutine(stack string) bool {
	entry := goroutineEntry(stack)
	for _, prefix := range ignoredGoroutines {
		if strings.HasPrefix(entry, prefix) {
			return true
		}
	}
	return false
}

// goroutineEntry returns the function a goroutine started in: the
// outermost frame of its stack.
func goroutineEntry(stack string) string {
	entry := ""
	for i, line := range strings.Split(stack, "\n") {
		if i == 0 || line == "" || strings.HasPrefix(line, "\t") ||
			strings.HasPrefix(line, "...") {
			continue
		}
		if strings.HasPrefix(line, "created by ") {
			break
		}
		if j := strings.LastIndexByte(line, '('); j > 0 && strings.HasSuffix(line, ")") {
			line = line[:j]
		}
		entry = line
	}
	return entry
}

func TestLeftoverGoroutines(t *testing.T) {
	before := goroutineStacks()
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		blockUntilClosed(stop)
	}()

	left := leftoverGoroutines(before, 50*time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0], "blockUntilClosed") {
		t.Errorf("with one goroutine blocked, leftovers = %d:\n%s\nwant the one in blockUntilClosed",
			len(left), strings.Join(left, "\n\n"))
	}

	close(stop)
	<-exited
	if left := leftoverGoroutines(before, leakGrace); len(left) != 0 {
		t.Errorf("after the goroutine ended, leftovers = %d:\n%s\nwant none",
			len(left), strings.Join(left, "\n\n"))
	}
}

//go:noinline
func blockUntilClosed(c chan struct{}) { <-c }

func TestGoroutineEntry(t *testing.T) {
	tests := []struct {
		name      string
		stack     string
		entry     string
		ignorable bool
	}{
		{
			name: "client connection",
			stack: "goroutine 21 [IO wait]:\n" +
				"internal/poll.runtime_pollWait(0x7f, 0x72)\n" +
				"\t/go/src/runtime/netpoll.go:351 +0x85\n" +
				"net/http.(*persistConn).readLoop(0xc0001b8000)\n" +
				"\t/go/src/net/http/transport.go:2395 +0x1c5\n" +
				"created by net/http.(*Transport).dialConn in goroutine 20\n" +
				"\t/go/src/net/http/transport.go:1944 +0x174d",
			entry:     "net/http.(*persistConn).readLoop",
			ignorable: true,
		},
		{
			name: "heartbeat timer",
			stack: "goroutine 35 [sync.Mutex.Lock]:\n" +
				"sync.(*Mutex).Lock(...)\n" +
				"\t/go/src/sync/mutex.go:46\n" +
				"github.com/eventwire/sse.(*Stream).heartbeat(0xc000220000)\n" +
				"\t/work/core/stream.go:340 +0x6b\n" +
				"created by time.goFunc\n" +
				"\t/go/src/time/sleep.go:215 +0x2d",
			entry:     "github.com/eventwire/sse.(*Stream).heartbeat",
			ignorable: false,
		},
		{
			name: "server connection",
			stack: "goroutine 40 [select]:\n" +
				"net/http.(*conn).serve(0xc0002a0000, {0x9a, 0xc0})\n" +
				"\t/go/src/net/http/server.go:2102 +0x625\n" +
				"created by net/http.(*Server).Serve in goroutine 39\n" +
				"\t/go/src/net/http/server.go:3454 +0x485",
			entry:     "net/http.(*conn).serve",
			ignorable: false,
		},
		{
			name: "subtest",
			stack: "goroutine 8 [chan receive]:\n" +
				"testing.(*T).Run(0xc000103340, {0x8f, 0x5}, 0xa0)\n" +
				"\t/go/src/testing/testing.go:1859 +0x414\n" +
				"testing.tRunner(0xc000103340, 0xa08)\n" +
				"\t/go/src/testing/testing.go:1792 +0xf4\n" +
				"created by testing.(*T).Run in goroutine 1\n" +
				"\t/go/src/testing/testing.go:1851 +0x3f6",
			entry:     "testing.tRunner",
			ignorable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := goroutineEntry(tt.stack); got != tt.entry {
				t.Errorf("goroutineEntry = %q, want %q", got, tt.entry)
			}
			if got := ignorableGoroutine(tt.stack); got != tt.ignorable {
				t.Errorf("ignorableGoroutine = %v, want %v", got, tt.ignorable)
			}
		})
	}
}
