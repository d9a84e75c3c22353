package ssetest

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// A tracker serves the handler under test and keeps track of each of its
// calls, so that a [Conn] can check that every call returned once the
// client left, and say where one is stuck if not.
type tracker struct {
	h     http.Handler
	mu    sync.Mutex
	calls []*call // not yet checked
	stuck bool    // a call did not return in time: the server cannot be closed
}

var _ http.Handler = (*tracker)(nil)

// A call is one run of the handler.
type call struct {
	goroutine string        // "goroutine 42", the header of its stack
	done      chan struct{} // closed when the handler has returned
	panicked  string        // the value and stack of a panic, set before done is closed
}

// ServeHTTP calls the handler and records the call. A panic is recorded
// and the response aborted without net/http's log line: the [Conn]
// reports it to the test instead. A deliberate [http.ErrAbortHandler] is
// passed on as it is.
func (tr *tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{goroutine: goroutineHeader(), done: make(chan struct{})}
	tr.mu.Lock()
	tr.calls = append(tr.calls, c)
	tr.mu.Unlock()
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			c.panicked = fmt.Sprintf("%v\n\n%s", p, debug.Stack())
		}
		close(c.done)
		if p != nil {
			panic(http.ErrAbortHandler)
		}
	}()
	tr.h.ServeHTTP(w, r)
}

// takePanic returns the record of the first panic among the calls not
// yet checked, or "", and forgets it: whoever reports it takes it, so
// that [tracker.check] does not report it again.
func (tr *tracker) takePanic() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, c := range tr.calls {
		select {
		case <-c.done:
			if p := c.panicked; p != "" {
				c.panicked = ""
				return p
			}
		default:
		}
	}
	return ""
}

// check waits up to timeout for every call not yet checked to return, and
// reports to t each call that did not, with its stack, and each that
// panicked.
func (tr *tracker) check(t testing.TB, timeout time.Duration) {
	t.Helper()
	tr.mu.Lock()
	calls := tr.calls
	tr.calls = nil
	tr.mu.Unlock()
	end := time.Now().Add(timeout)
	for _, c := range calls {
		if !wait(c.done, time.Until(end)) {
			tr.mu.Lock()
			tr.stuck = true
			tr.mu.Unlock()
			t.Errorf("ssetest: the handler did not return within %v after the client left; it is still running:\n\n%s",
				timeout, stackOf(c.goroutine))
			continue
		}
		if p := c.panicked; p != "" {
			t.Errorf("ssetest: the handler panicked: %s", p)
		}
	}
}

// wait reports whether done is closed within d.
func wait(done <-chan struct{}, d time.Duration) bool {
	select {
	case <-done:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// isStuck reports whether a call was found stuck.
func (tr *tracker) isStuck() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.stuck
}

// goroutineHeader returns "goroutine N", which begins the stack of the
// calling goroutine.
func goroutineHeader() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	header, _, _ := bytes.Cut(buf, []byte(" ["))
	return string(header)
}

// stackOf returns the current stack of the goroutine with the given
// header, or a note that it has ended.
func stackOf(goroutine string) string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	for _, stack := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(stack, goroutine+" [") {
			return strings.TrimSpace(stack)
		}
	}
	return goroutine + " has just ended"
}
