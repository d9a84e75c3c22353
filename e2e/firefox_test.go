package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// firefox is a headless Firefox driven over WebDriver BiDi, the protocol
// Firefox speaks itself over a WebSocket; no geckodriver is involved.
type firefox struct {
	conn    *bidiConn
	context string // the page's browsing context
}

// firefoxPrefs keep a test profile from reaching out to the network (which
// refuses it here) and from showing first-run pages. Firefox's remote agent
// sets more such preferences itself (remote.prefs.recommended).
var firefoxPrefs = map[string]any{
	"app.update.disabledForTesting":               true,
	"browser.shell.checkDefaultBrowser":           false,
	"browser.startup.homepage_override.mstone":    "ignore",
	"browser.startup.page":                        0,
	"browser.newtabpage.enabled":                  false,
	"browser.safebrowsing.malware.enabled":        false,
	"browser.safebrowsing.phishing.enabled":       false,
	"browser.region.network.url":                  "",
	"datareporting.policy.dataSubmissionEnabled":  false,
	"datareporting.healthreport.uploadEnabled":    false,
	"toolkit.telemetry.reportingpolicy.firstRun":  false,
	"extensions.update.enabled":                   false,
	"extensions.getAddons.cache.enabled":          false,
	"messaging-system.rsexperimentloader.enabled": false,
	"network.captive-portal-service.enabled":      false,
	"network.connectivity-service.enabled":        false,
	"network.dns.disablePrefetch":                 true,
	"network.http.speculative-parallel-limit":     0,
	"services.settings.server":                    "http://127.0.0.1:9/",
}

// bidiListening is the line Firefox prints once it accepts WebDriver BiDi
// connections.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// startFirefox starts a headless Firefox ($FIREFOX or /usr/bin/firefox-esr)
// with a fresh profile and opens a BiDi session that accepts any
// certificate: the tests make their own.
func startFirefox(t *testing.T) browser {
	path := lookPath(t, "FIREFOX", "/usr/bin/firefox-esr", "firefox-esr")
	profile := t.TempDir()
	var prefs strings.Builder
	for name, value := range firefoxPrefs {
		v, err := json.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&prefs, "user_pref(%q, %s);\n", name, v)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(prefs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	p := start(t, cmd)

	// Port 0 lets Firefox pick a free port, which it prints.
	var url string
	deadline := time.Now().Add(startTimeout)
	for url == "" {
		if m := bidiListening.FindStringSubmatch(p.out.String()); m != nil {
			url = m[1]
			break
		}
		if p.exited() {
			t.Fatalf("Firefox exited before accepting WebDriver BiDi: %v\n%s", p.err, p.out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Firefox does not accept WebDriver BiDi after %v:\n%s", startTimeout, p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := dialBiDi(ctx, url+"/session")
	if err != nil {
		t.Fatalf("connecting to Firefox: %v", err)
	}
	// Close the browser gracefully, then wait for its processes: content
	// processes outlive the main one for a moment. The process's own
	// cleanup kills what is left.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := conn.call(ctx, "browser.close", struct{}{}, nil); err != nil {
			t.Logf("closing Firefox: %v", err)
		}
		if err := conn.close(); err != nil {
			t.Logf("closing the BiDi connection: %v", err)
		}
		select {
		case <-p.done:
			p.waitGroup(t)
		case <-ctx.Done():
			t.Logf("Firefox still runs %v after browser.close", closeTimeout)
		}
	})
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}}
	if err := conn.call(ctx, "session.new", caps, nil); err != nil {
		t.Fatalf("starting a BiDi session: %v", err)
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := conn.call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree); err != nil {
		t.Fatalf("finding Firefox's page: %v", err)
	}
	if len(tree.Contexts) == 0 {
		t.Fatal("Firefox has no page open")
	}
	return &firefox{conn: conn, context: tree.Contexts[0].Context}
}

func (f *firefox) navigate(ctx context.Context, url string) error {
	return f.conn.call(ctx, "browsingContext.navigate", map[string]any{
		"context": f.context,
		"url":     url,
		"wait":    "complete",
	}, nil)
}

func (f *firefox) eval(ctx context.Context, expr string) (string, error) {
	var res struct {
		Type   string `json:"type"` // "success" or "exception"
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := f.conn.call(ctx, "script.evaluate", map[string]any{
		"expression":      expr,
		"target":          map[string]any{"context": f.context},
		"awaitPromise":    false,
		"resultOwnership": "none",
	}, &res)
	switch {
	case err != nil:
		return "", err
	case res.Type != "success":
		return "", fmt.Errorf("evaluating %.60q: %s", expr, res.ExceptionDetails.Text)
	case res.Result.Type != "string":
		return "", fmt.Errorf("evaluating %.60q: got a %s, want a string", expr, res.Result.Type)
	}
	s, _ := res.Result.Value.(string)
	return s, nil
}

// bidiConn is a WebDriver BiDi connection: commands go out as JSON
// messages with an ID, and one goroutine, which ends when the connection
// does, reads the responses and hands each to the call waiting for it.
// Events are not subscribed to and so never come.
type bidiConn struct {
	ws   *websocket.Conn
	done chan struct{} // closed when the reader has ended

	mu      sync.Mutex
	nextID  int
	pending map[int]chan bidiResponse
	readErr error // why the reader ended
}

// bidiResponse is a command's answer: result on success, error and
// message otherwise.
type bidiResponse struct {
	ID      *int            `json:"id"`
	Type    string          `json:"type"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

// errBiDiClosed reports a command on a connection that has ended.
var errBiDiClosed = errors.New("WebDriver BiDi connection closed")

func dialBiDi(ctx context.Context, url string) (*bidiConn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	// Evaluations return whole event lists, the large event among them.
	ws.SetReadLimit(64 << 20)
	c := &bidiConn{ws: ws, done: make(chan struct{}), pending: make(map[int]chan bidiResponse)}
	go c.read()
	return c, nil
}

func (c *bidiConn) read() {
	defer close(c.done)
	for {
		_, msg, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.pending = nil
			c.mu.Unlock()
			return
		}
		var resp bidiResponse
		if err := json.Unmarshal(msg, &resp); err != nil || resp.ID == nil {
			continue // an event, or nothing the tests asked for
		}
		c.mu.Lock()
		ch := c.pending[*resp.ID]
		delete(c.pending, *resp.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
}

// call sends the command method with params and waits for its answer,
// which it decodes into result unless result is nil.
func (c *bidiConn) call(ctx context.Context, method string, params, result any) error {
	c.mu.Lock()
	if c.pending == nil {
		err := c.readErr
		c.mu.Unlock()
		return fmt.Errorf("%s: %w: %v", method, errBiDiClosed, err)
	}
	c.nextID++
	id := c.nextID
	ch := make(chan bidiResponse, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	msg, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		forget()
		return err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, msg); err != nil {
		forget()
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case resp := <-ch:
		return c.decode(method, resp, result)
	case <-c.done:
		select {
		case resp := <-ch: // answered just before the end
			return c.decode(method, resp, result)
		default:
			return fmt.Errorf("%s: %w", method, errBiDiClosed)
		}
	case <-ctx.Done():
		forget()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// decode turns resp into an error or decodes its result into result,
// unless result is nil.
func (c *bidiConn) decode(method string, resp bidiResponse, result any) error {
	if resp.Type != "success" {
		return fmt.Errorf("%s: %s: %s", method, resp.Error, resp.Message)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("%s: decoding the result: %w", method, err)
	}
	return nil
}

// close ends the connection and waits for its reader.
func (c *bidiConn) close() error {
	err := c.ws.CloseNow()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil // Firefox closed it first, on browser.close
	}
	return err
}

func (*firefox) engine() cases.Engine { return cases.Gecko }
