package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

const (
	// feedUser is the user the browser logs in as in examples/feed;
	// feedOther is another user, whose notifications it must never show.
	feedUser, feedOther = "ann", "bob"
	// feedRetry is the reconnection delay the feed example's streams send
	// (retry in examples/feed/main.go): a page that did not close its
	// EventSource would reconnect after it.
	feedRetry = time.Second
	// feedReason is the reason the feed example ends a user's streams
	// with when the user logs out (logoutReason there).
	feedReason = "logged out"
)

// feedNote is a notification of the feed example, as the test sends it
// and as the page must show it.
type feedNote struct {
	From string `json:"from"`
	Text string `json:"text"`
	To   string `json:"-"`
}

// checkFeed runs examples/feed and has the browser log in as feedUser and
// open her page. The notifications the test sends her appear live, in
// order and exactly, characters beyond ASCII and a line break included,
// and those it sends feedOther between them never do. Then the page's Log
// out button ends the page's stream: the page shows the reason, and its
// EventSource is closed (readyState 2) without an error event and stays
// closed past the retry delay, while the server saw one request for the
// stream and has no subscriber left; the login is gone.
func checkFeed(t *testing.T, b browser) {
	bin := buildExampleOnce(t, "feed")
	addr := freeAddr(t)
	srv := startServer(t, addr, bin, "-addr", addr)
	base := "http://" + addr
	p := &page{b: b, report: func(from int) string {
		return fmt.Sprintf(`JSON.stringify({
			events: (window.received || []).slice(%d),
			total: (window.received || []).length,
			state: (document.getElementById("state") || {}).textContent || "no page",
			errors: window.errors || 0,
		})`, from)
	}}
	p.open(t, base+"/login?user="+feedUser) // which sends the browser to the page
	if h1 := eval(t, b, `(document.querySelector("h1") || {}).textContent || document.title`); h1 != "Notifications for "+feedUser {
		t.Fatalf("after logging in as %s the browser shows %q, want the page \"Notifications for %[1]s\"", feedUser, h1)
	}
	p.waitFor(t, "the page's stream to open", eventTimeout, func(p *page) bool { return p.state.State == "open" })
	waitFeedSubscribers(t, base, 1) // the page's stream is subscribed: it gets what is sent from now on

	// Each of the user's notifications comes after one to the other user,
	// so the page would show that one first if it got it.
	want := []feedNote{
		{From: "carol", To: feedUser, Text: "Lunch at noon?"},
		{From: feedOther, To: feedUser, Text: "Ciao «ann» 🌅\nsecond line, \"quoted\" <b>not bold</b>"},
		{From: feedUser, To: feedUser, Text: "a note to self"},
	}
	for i, n := range want {
		sendFeed(t, base, feedNote{From: "carol", To: feedOther, Text: fmt.Sprintf("for %s only, %d", feedOther, i+1)})
		sendFeed(t, base, n)
		p.waitEvents(t, i+1, liveTimeout)
	}
	if len(p.events) != len(want) {
		t.Fatalf("the page recorded %d notifications, want %d: %v", len(p.events), len(want), p.events)
	}
	checkFeedEvents(t, p.events, want)
	// The page shows them, newest first.
	var shown []string
	if err := json.Unmarshal([]byte(eval(t, b, `JSON.stringify([...document.querySelectorAll("#notifications li")].map((li) => li.textContent))`)), &shown); err != nil {
		t.Fatalf("reading the page's list: %v", err)
	}
	slices.Reverse(shown)
	for i, n := range want {
		if i >= len(shown) || !strings.HasPrefix(shown[i], n.From+": "+n.Text+" ") {
			t.Errorf("the page lists %q, want %d items, oldest last, item %d beginning %q", shown, len(want), len(want)-i, n.From+": "+n.Text)
			break
		}
	}

	eval(t, b, `(() => { document.getElementById("logout").click(); return ""; })()`)
	p.waitFor(t, "the page to close its stream after the logout", eventTimeout, func(p *page) bool { return p.state.State != "open" })
	checkFeedClosed(t, b, p, "right after the logout")
	// A page that did not close its EventSource would reconnect after
	// feedRetry and fire an error event first.
	for end := time.Now().Add(3 * feedRetry); time.Now().Before(end); time.Sleep(pollEvery) {
		p.read(t)
		checkFeedClosed(t, b, p, "after the logout")
	}
	waitFeedSubscribers(t, base, 0)
	// gin's log has a line for each request, written when it ends.
	if n := strings.Count(srv.out.String(), `"/notifications"`); n != 1 {
		t.Errorf("the server logged %d requests for /notifications, want 1: the page reconnected\n%s", n, srv.out.String())
	}

	// The logout cleared the login: the page is now the login form.
	p.open(t, base+"/")
	if title := eval(t, b, `document.title`); title != "Log in" {
		t.Errorf("after the logout / shows %q, want the login form", title)
	}
}

// checkFeedEvents fails the test unless evs are notification events with
// the data of want, in order, with IDs.
func checkFeedEvents(t *testing.T, evs []cases.Received, want []feedNote) {
	t.Helper()
	for i, ev := range evs {
		var got feedNote
		err := json.Unmarshal([]byte(ev.Data), &got)
		if ev.Type != "notification" || ev.ID == "" || err != nil || got.From != want[i].From || got.Text != want[i].Text {
			t.Fatalf("notification %d: the page recorded %v, want a notification event with an ID from %s: %q; all: %v", i+1, ev, want[i].From, want[i].Text, evs)
		}
	}
}

// checkFeedClosed fails the test unless the page shows the logout's
// reason and its EventSource is closed, without an error event: it
// closed the stream itself, on sse-end, rather than lose it.
func checkFeedClosed(t *testing.T, b browser, p *page, when string) {
	t.Helper()
	var st struct {
		ReadyState int
		Reason     string
	}
	js := eval(t, b, `JSON.stringify({readyState: es.readyState, reason: (document.getElementById("reason") || {}).textContent || ""})`)
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("reading the page: %v in %q", err, js)
	}
	if st.ReadyState != 2 || st.Reason != feedReason || p.state.State != "closed" || p.state.Errors != 0 {
		t.Fatalf("%s the page shows connection %q and reason %q, with readyState %d after %d error events; want \"closed\", %q, 2 (CLOSED) and none",
			when, p.state.State, st.Reason, st.ReadyState, p.state.Errors, feedReason)
	}
}

// sendFeed posts n to the feed example at base, logged in as n.From.
func sendFeed(t *testing.T, base string, n feedNote) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/notify?to="+n.To, strings.NewReader(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "user", Value: n.From})
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /notify?to=%s: %v", n.To, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /notify?to=%s as %s: %s, want 204", n.To, n.From, resp.Status)
	}
}

// waitFeedSubscribers waits until the feed example at base has n streams
// subscribed to its hub (GET /stats).
func waitFeedSubscribers(t *testing.T, base string, n int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(liveTimeout)
	for {
		resp, err := client.Get(base + "/stats")
		if err != nil {
			t.Fatalf("GET /stats: %v", err)
		}
		var stats struct{ Subscribers int }
		err = json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /stats: %v", err)
		}
		if stats.Subscribers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed example has %d subscribers after %v, want %d", stats.Subscribers, liveTimeout, n)
		}
		time.Sleep(pollEvery)
	}
}
