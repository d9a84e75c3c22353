package ssetest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeT is a testing.TB that records what the kit reports instead of
// failing the test, so that a test can check that the kit fails a user's
// test when it should, and with what message. Fatalf ends the goroutine as
// testing.T's does. It implements only the methods the kit may call; any
// other is the embedded nil interface's and panics, which would show that
// the kit calls something it should not.
type fakeT struct {
	testing.TB

	mu       sync.Mutex
	reports  []string
	fatal    bool
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports = append(f.reports, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run calls test with a fakeT on a goroutine of its own, as go test
// does, then runs its cleanups, last registered first, and returns the
// fakeT once they all have.
func run(test func(t testing.TB)) *fakeT {
	f := new(fakeT)
	goexit(func() { test(f) })
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		goexit(f.cleanups[i])
	}
	return f
}

// goexit calls fn on a goroutine of its own, which a Fatalf may end, and
// waits for it to end.
func goexit(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// String lists the reports, for failure messages.
func (f *fakeT) String() string {
	if len(f.reports) == 0 {
		return "nothing reported"
	}
	return fmt.Sprintf("%d report(s):\n%s", len(f.reports), strings.Join(f.reports, "\n---\n"))
}
