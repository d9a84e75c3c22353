package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
	"github.com/eventwire/sse/ssetest"
	"github.com/gin-gonic/gin"
)

// app is the app's routes and their hub.
type app struct {
	http.Handler
	hub *sse.Hub
}

// newApp returns the app's routes on a fresh hub, which the test's end
// closes after the streams.
func newApp(t *testing.T) *app {
	t.Helper()
	gin.SetMode(gin.TestMode)
	hub, err := sse.NewHub()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := hub.Close(); err != nil {
			t.Errorf("closing the hub: %v", err)
		}
	})
	r := gin.New()
	r.Use(gin.Recovery())
	routes(r, hub)
	return &app{r, hub}
}

// request returns a request for target as user, logged in with the toy
// login's cookie; "" is nobody.
func request(method, target, user, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if user != "" {
		req.AddCookie(&http.Cookie{Name: userCookie, Value: user})
	}
	return req
}

// do sends req to app and returns the response.
func do(app http.Handler, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	return rec.Result()
}

// send has from notify to with text, and fails the test unless it is sent.
func send(t *testing.T, app *app, from, to, text string) {
	t.Helper()
	resp := do(app, request(http.MethodPost, "/notify?to="+to, from, text))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s notifying %s: %s, want 204", from, to, resp.Status)
	}
}

// feed opens user's stream of notifications, as the page's EventSource,
// and waits until it is subscribed: only what is published after that
// reaches a stream that has no last event ID to resume from.
func feed(t *testing.T, app *app, user string) *ssetest.Conn {
	t.Helper()
	n := app.hub.Stats().Subscribers
	c := ssetest.Open(t, app, request(http.MethodGet, "/notifications", user, ""))
	app.waitSubscribers(t, n+1)
	return c
}

// waitSubscribers waits until the hub has n subscribers.
func (app *app) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(ssetest.DefaultTimeout)
	for app.hub.Stats().Subscribers != n {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d subscribers after %v, want %d", app.hub.Stats().Subscribers, ssetest.DefaultTimeout, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkNotification fails the test unless ev is a notification from from
// with text.
func checkNotification(t *testing.T, ev sse.Event, from, text string) {
	t.Helper()
	var n notification
	if ev.Type != "notification" || json.Unmarshal([]byte(ev.Data), &n) != nil || n.From != from || n.Text != text || n.At.IsZero() {
		t.Fatalf("got event {ID:%q Type:%q Data:%q}, want a notification from %s: %q", ev.ID, ev.Type, ev.Data, from, text)
	}
}

// Each user's stream carries the notifications sent to that user, and no
// one else's.
func TestOwnNotificationsOnly(t *testing.T) {
	leaktest.Check(t)
	app := newApp(t)
	ann, bob := feed(t, app, "ann"), feed(t, app, "bob")
	var st sse.Stats
	resp := do(app, request(http.MethodGet, "/stats", "", ""))
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.Subscribers != 2 {
		t.Errorf("GET /stats: %s, %+v (%v), want 2 subscribers", resp.Status, st, err)
	}

	send(t, app, "carol", "ann", "for ann")
	send(t, app, "carol", "bob", "for bob")
	send(t, app, "bob", "ann", "for ann, from bob")
	got := ann.Take(2)
	checkNotification(t, got[0], "carol", "for ann")
	checkNotification(t, got[1], "bob", "for ann, from bob")
	checkNotification(t, bob.Next(), "carol", "for bob")

	send(t, app, "ann", "ann", "a note to self")
	checkNotification(t, ann.Next(), "ann", "a note to self")
}

// A user who was away while another user got more notifications than a
// topic's history keeps reconnects with her last event ID and gets exactly
// the one notification she missed: no sse-reset, nothing twice.
func TestReconnectAfterAnotherUsersBurst(t *testing.T) {
	leaktest.Check(t)
	app := newApp(t)
	ann := feed(t, app, "ann")
	send(t, app, "carol", "ann", "seen")
	checkNotification(t, ann.Next(), "carol", "seen")
	ann.Close()

	const burst = sse.DefaultHistoryPerTopic + 1 // more than bob's topic keeps
	for i := range burst {
		send(t, app, "carol", "bob", "busy "+strconv.Itoa(i))
	}
	send(t, app, "carol", "ann", "missed")

	ann.Reconnect() // with the ID of "seen"
	app.waitSubscribers(t, 1)
	checkNotification(t, ann.Next(), "carol", "missed")
	send(t, app, "carol", "ann", "live")
	checkNotification(t, ann.Next(), "carol", "live")
}

// Logging out ends each of the user's streams with an sse-end event whose
// data is the reason, and clears the login; another user's stream stays
// open.
func TestLogout(t *testing.T) {
	leaktest.Check(t)
	app := newApp(t)
	annPage, annPhone, bob := feed(t, app, "ann"), feed(t, app, "ann"), feed(t, app, "bob")
	send(t, app, "bob", "ann", "before")

	resp := do(app, request(http.MethodPost, "/logout", "ann", ""))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /logout: %s, want 204", resp.Status)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || c.Name == userCookie && c.MaxAge < 0
	}
	if !cleared {
		t.Errorf("POST /logout sets cookies %q, want %s cleared", resp.Header.Values("Set-Cookie"), userCookie)
	}

	for name, ann := range map[string]*ssetest.Conn{"page": annPage, "phone": annPhone} {
		evs := ann.Rest() // fails unless the stream ends
		if len(evs) != 2 {
			t.Fatalf("ann's %s got %d events before its stream ended, want 2: %v", name, len(evs), evs)
		}
		checkNotification(t, evs[0], "bob", "before")
		if end := evs[1]; end.Type != sse.EndEvent || end.Data != logoutReason {
			t.Errorf("ann's %s stream ended with {Type:%q Data:%q}, want {Type:%q Data:%q}", name, end.Type, end.Data, sse.EndEvent, logoutReason)
		}
	}
	send(t, app, "ann", "bob", "after ann left")
	checkNotification(t, bob.Next(), "ann", "after ann left")
}

// Without a login every route but /login answers 401 before doing
// anything: no stream starts, no notification is sent, nobody is logged
// out.
func TestLoginRequired(t *testing.T) {
	leaktest.Check(t)
	app := newApp(t)
	ann := feed(t, app, "ann")
	for _, cookie := range []string{"", "Ann!"} { // none, and a name no login sets
		for _, tc := range []struct{ method, target string }{
			{http.MethodGet, "/"},
			{http.MethodGet, "/notifications"},
			{http.MethodPost, "/notify?to=ann"},
			{http.MethodPost, "/logout"},
		} {
			req := request(tc.method, tc.target, "", "spoofed")
			if cookie != "" {
				req.AddCookie(&http.Cookie{Name: userCookie, Value: cookie})
			}
			req.Header.Set("Accept", "text/event-stream")
			resp := do(app, req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with login cookie %q: %s, want 401", tc.method, tc.target, cookie, resp.Status)
			}
			if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("%s %s with login cookie %q: Content-Type %q, want no stream", tc.method, tc.target, cookie, ct)
			}
		}
	}
	// Neither the refused notification nor the refused logout reached ann.
	send(t, app, "bob", "ann", "real")
	checkNotification(t, ann.Next(), "bob", "real")
}

// The toy login sets the cookie that the other routes read, and sends the
// browser to the page.
func TestLogin(t *testing.T) {
	app := newApp(t)
	for _, tc := range []struct {
		target string
		status int
		user   string // in the cookie set, if any
	}{
		{"/login?user=ann", http.StatusSeeOther, "ann"},
		{"/login?user=", http.StatusBadRequest, ""},
		{"/login?user=Ann%21", http.StatusBadRequest, ""},
		{"/login?user=" + strings.Repeat("a", 33), http.StatusBadRequest, ""},
	} {
		resp := do(app, request(http.MethodGet, tc.target, "", ""))
		var user string
		for _, c := range resp.Cookies() {
			if c.Name == userCookie {
				user = c.Value
			}
		}
		if resp.StatusCode != tc.status || user != tc.user {
			t.Errorf("GET %s: %s setting user %q, want %d setting %q", tc.target, resp.Status, user, tc.status, tc.user)
		}
		if tc.user == "" {
			continue
		}
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("GET %s redirects to %q, want /", tc.target, loc)
		}
		page := do(app, request(http.MethodGet, "/", user, ""))
		body, err := io.ReadAll(page.Body)
		if page.StatusCode != http.StatusOK || err != nil || !strings.Contains(string(body), "<h1>Notifications for "+user+"</h1>") {
			t.Errorf("GET / as %s: %s %.100q (%v), want 200 and the page for %[1]s", user, page.Status, body, err)
		}
	}
}
