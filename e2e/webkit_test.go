package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// webkit is WebKitGTK's MiniBrowser, Safari's engine, driven over W3C
// WebDriver (JSON over HTTP) by WebKitWebDriver. MiniBrowser has no
// headless mode, so it shows its window on an Xvfb display of its own.
type webkit struct {
	client  *http.Client
	session string // the session's URL: http://127.0.0.1:port/session/id
}

// startWebKit starts Xvfb, WebKitWebDriver ($WEBKIT_WEBDRIVER or
// /usr/bin/WebKitWebDriver) on it, and a session whose browser accepts any
// certificate: the tests make their own.
func startWebKit(t *testing.T) browser {
	driver := lookPath(t, "WEBKIT_WEBDRIVER", "/usr/bin/WebKitWebDriver", "webkit2gtk-driver")
	xvfb := lookPath(t, "XVFB", "/usr/bin/Xvfb", "xvfb")
	display := startXvfb(t, xvfb)

	addr := freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(driver, "--host=127.0.0.1", "--port="+port)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "NO_AT_BRIDGE=1", "GTK_A11Y=none")
	p := start(t, cmd)
	waitListening(t, p, addr)

	w := &webkit{client: &http.Client{}}
	// Without a working display WebKitWebDriver never answers this.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{"acceptInsecureCerts": true}}}
	if mb := os.Getenv("MINIBROWSER"); mb != "" {
		caps["capabilities"].(map[string]any)["alwaysMatch"].(map[string]any)["webkitgtk:browserOptions"] =
			map[string]any{"binary": mb, "args": []string{"--automation"}}
	}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	if err := w.do(ctx, http.MethodPost, "http://"+addr+"/session", caps, &session); err != nil {
		t.Fatalf("starting a WebKit session: %v", err)
	}
	w.session = "http://" + addr + "/session/" + session.SessionID
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := w.do(ctx, http.MethodDelete, w.session, nil, nil); err != nil {
			t.Logf("closing the WebKit session: %v", err)
		}
		if !p.stop(os.Interrupt) {
			t.Logf("WebKitWebDriver still runs %v after an interrupt", exitTimeout)
		}
		p.waitGroup(t)
	})
	return w
}

// startXvfb starts a virtual X display and returns its name, ":n". Xvfb
// picks a free display number itself and writes it to a pipe.
func startXvfb(t *testing.T, xvfb string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(xvfb, "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1024x768x24")
	cmd.ExtraFiles = []*os.File{w}
	p := start(t, cmd)
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not say its display: %v\n%s", err, p.out)
	}
	return ":" + strings.TrimSpace(line)
}

func (w *webkit) navigate(ctx context.Context, url string) error {
	return w.do(ctx, http.MethodPost, w.session+"/url", map[string]any{"url": url}, nil)
}

func (w *webkit) eval(ctx context.Context, expr string) (string, error) {
	var s string
	err := w.do(ctx, http.MethodPost, w.session+"/execute/sync", map[string]any{
		"script": "return (" + expr + ");",
		"args":   []any{},
	}, &s)
	return s, err
}

// do sends one WebDriver command and decodes the response's value into
// value unless it is nil.
func (w *webkit) do(ctx context.Context, method, url string, body, value any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("%s %s: %s, decoding the answer: %w", method, url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(out.Value, &e); err != nil {
			return fmt.Errorf("%s %s: %s", method, url, resp.Status)
		}
		return fmt.Errorf("%s %s: %s: %s: %s", method, url, resp.Status, e.Error, e.Message)
	}
	if value == nil {
		return nil
	}
	return json.Unmarshal(out.Value, value)
}

func (*webkit) engine() cases.Engine { return cases.WebKit }
