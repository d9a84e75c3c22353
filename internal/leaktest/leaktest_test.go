package leaktest

import (
	"strings"
	"testing"
	"time"
)

func TestLeftoverGoroutines(t *testing.T) {
	before := Stacks()
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		blockUntilClosed(stop)
	}()

	left := Leftover(before, 50*time.Millisecond)
	if len(left) != 1 || !strings.Contains(left[0], "blockUntilClosed") {
		t.Errorf("with one goroutine blocked, leftovers = %d:\n%s\nwant the one in blockUntilClosed",
			len(left), strings.Join(left, "\n\n"))
	}

	close(stop)
	<-exited
	if left := Leftover(before, Grace); len(left) != 0 {
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
