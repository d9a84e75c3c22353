package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

const (
	// startTimeout bounds the start of a browser.
	startTimeout = 60 * time.Second
	// closeTimeout bounds a graceful close of a browser.
	closeTimeout = 10 * time.Second
	// actionTimeout bounds one command to a page.
	actionTimeout = 20 * time.Second
)

// A browser is one running browser engine with one page, driven over the
// engine's own protocol. The tests say what to do in the page, in
// JavaScript, and nothing else, so that every engine runs the same checks.
// A browser is used by one goroutine at a time.
type browser interface {
	// navigate loads url in the page and waits until it has loaded.
	navigate(ctx context.Context, url string) error
	// eval evaluates the JavaScript expression expr, whose value must be a
	// string, in the page and returns that string.
	eval(ctx context.Context, expr string) (string, error)
	// engine names the browser's engine.
	engine() cases.Engine
}

// engine is one browser engine the tests drive.
type engine struct {
	name string
	// start starts the engine's browser, which ends with the test. It
	// skips the test when the browser is not installed, or fails it when
	// CI=true.
	start func(t *testing.T) browser
}

// engines are every engine the tests drive, each with a driver of its own:
// Chromium over the Chrome DevTools Protocol, Firefox over WebDriver BiDi,
// WebKit (MiniBrowser) over W3C WebDriver.
var engines = []engine{
	{"chromium", startChromium},
	{"firefox", startFirefox},
	{"webkit", startWebKit},
}

// lookPath returns the program to run: the path in the environment
// variable env if set, else def. Without one the test skips, or fails when
// CI=true, so that CI cannot pass without having run it.
func lookPath(t *testing.T, env, def, install string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = def
	}
	found, err := exec.LookPath(path)
	if err != nil {
		missing(t, fmt.Sprintf("%v; install the Debian package %s, or set %s", err, install, env))
	}
	return found
}

// missing skips the test for want of what, or fails it when CI=true.
func missing(t *testing.T, what string) {
	t.Helper()
	msg := "not installed, so not tested: " + what
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
