// Package leaktest checks that a test leaves no goroutine running. It is
// for this module's tests only.
package leaktest

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Grace is how long Check waits for goroutines to end: closing
// a connection ends its goroutines soon after, not at once.
const Grace = 3 * time.Second

// Check fails t if a goroutine started during the test is still
// running when the test ends, printing the stacks of those left over.
//
// Call it first in a test: cleanups run last-registered first, so the
// servers, connections and clients the test closes in its own cleanups are
// closed before the check. Goroutines that were running before the call are
// not checked, so tests that use it must not run in parallel with tests
// that start goroutines.
func Check(t testing.TB) {
	t.Helper()
	before := Stacks()
	t.Cleanup(func() {
		if left := Leftover(before, Grace); len(left) > 0 {
			t.Errorf("%d goroutine(s) still running %v after the test ended:\n\n%s",
				len(left), Grace, strings.Join(left, "\n\n"))
		}
	})
}

// Leftover polls for up to within until every goroutine that is
// not in before and not ignorable has ended, and returns the stacks of
// those still running.
func Leftover(before map[int64]string, within time.Duration) []string {
	deadline := time.Now().Add(within)
	for {
		var left []string
		for id, stack := range Stacks() {
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

// Stacks returns the stack of every goroutine, keyed by its ID.
// Goroutine IDs are never reused, so an ID identifies one goroutine.
func Stacks() map[int64]string {
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
