package clientbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
)

// sent are the events each server sends, chosen to cover what the three
// libraries can all express: IDs that carry over, types, several lines of
// data, JSON, non-ASCII text.
var sent = []sse.Event{
	{ID: "1", Data: "hello"},
	{Type: "update", Data: `{"n":2,"ok":true}`},
	{ID: "3", Type: "multi", Data: "line one\nline two\nline three"},
	{ID: "4", Data: "héllo, 世界 😀"},
}

// want is what a browser reports for sent: the carried ID, "message" for
// no type.
var want = []sse.Event{
	{ID: "1", Type: "message", Data: "hello"},
	{ID: "1", Type: "update", Data: `{"n":2,"ok":true}`},
	{ID: "3", Type: "multi", Data: "line one\nline two\nline three"},
	{ID: "4", Type: "message", Data: "héllo, 世界 😀"},
}

// ready is the event a server repeats until a client shows it has
// subscribed, for servers that have no subscriber count to wait on.
const ready = "ready"

// readOurs reads n events with this module's client, skipping ready
// events, each with the ID a browser reports with it; it closes gotReady
// (if not nil) when the first arrives.
func readOurs(t *testing.T, url string, n int, gotReady chan struct{}) []sse.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []sse.Event
	last := "" // the last event ID in force, which a browser reports with each event
	for ev, err := range sse.Get(ctx, url, sse.WithReconnectDelay(10*time.Millisecond)) {
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		if ev.Data == ready {
			if gotReady != nil {
				close(gotReady)
				gotReady = nil
			}
			continue
		}
		if ev.ID != "" || ev.ClearID { // the event's own ID
			last = ev.ID
		}
		ev.ID, ev.ClearID, ev.Retry = last, false, 0
		if got = append(got, ev); len(got) == n {
			break
		}
	}
	return got
}

func TestOursReadsGoSSE(t *testing.T) {
	srv := &gosse.Server{}
	defer srv.Shutdown(context.Background())
	hs := httptest.NewServer(srv)
	defer hs.Close()

	done := make(chan []sse.Event)
	gotReady := make(chan struct{})
	go func() { done <- readOurs(t, hs.URL, len(want), gotReady) }()
	publish := func(ev sse.Event) {
		m := &gosse.Message{}
		if ev.ID != "" {
			m.ID = gosse.ID(ev.ID)
		}
		if ev.Type != "" {
			m.Type = gosse.Type(ev.Type)
		}
		m.AppendData(ev.Data)
		if err := srv.Publish(m); err != nil {
			t.Error(err)
		}
	}
	// go-sse cannot say whether a client has subscribed: send ready
	// events until one arrives. Ours skips them; the real events follow.
	for subscribed := false; !subscribed; {
		publish(sse.Event{Data: ready})
		select {
		case <-gotReady:
			subscribed = true
		case <-time.After(5 * time.Millisecond):
		}
	}
	for _, ev := range sent {
		publish(ev)
	}
	if got := <-done; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestOursReadsR3labs(t *testing.T) {
	srv := r3sse.New()   // AutoReplay on: a new subscriber gets the events so far
	srv.SplitData = true // else it writes data with line breaks on one data line
	defer srv.Close()
	srv.CreateStream("s")
	for _, ev := range sent {
		srv.Publish("s", &r3sse.Event{ID: []byte(ev.ID), Event: []byte(ev.Type), Data: []byte(ev.Data)})
	}
	hs := httptest.NewServer(http.HandlerFunc(srv.ServeHTTP))
	defer hs.Close()
	// r3labs numbers the events of its log itself, from 0, replacing
	// their IDs; the rest must arrive as sent. It keeps the stream open
	// after the replay.
	wantR3 := append([]sse.Event(nil), want...)
	for i := range wantR3 {
		wantR3[i].ID = strconv.Itoa(i)
	}
	if got := readOurs(t, hs.URL+"?stream=s", len(want), nil); !reflect.DeepEqual(got, wantR3) {
		t.Errorf("got %+v\nwant %+v", got, wantR3)
	}
}

// ourServer serves sent, then holds the stream open until the client
// leaves, so that no client reconnects.
func ourServer(t *testing.T) *httptest.Server {
	hs := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		for _, ev := range sent {
			if err := s.Send(ev); err != nil {
				return err
			}
		}
		<-s.Done()
		return nil
	}))
	t.Cleanup(hs.Close)
	return hs
}

func TestGoSSEReadsOurs(t *testing.T) {
	hs := ourServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL, nil)
	conn := (&gosse.Client{}).NewConnection(req)
	var mu sync.Mutex
	var got []sse.Event
	conn.SubscribeToAll(func(e gosse.Event) {
		typ := e.Type
		if typ == "" {
			typ = "message" // go-sse leaves the type of unnamed events empty
		}
		mu.Lock()
		defer mu.Unlock()
		if got = append(got, sse.Event{ID: e.LastEventID, Type: typ, Data: e.Data}); len(got) == len(want) {
			cancel()
		}
	})
	conn.Connect()
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestR3labsReadsOurs(t *testing.T) {
	hs := ourServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := r3sse.NewClient(hs.URL)
	var got []sse.Event
	events := make(chan *r3sse.Event)
	go c.SubscribeRawWithContext(ctx, func(e *r3sse.Event) {
		select {
		case events <- e:
		case <-ctx.Done():
		}
	})
	for len(got) < len(want) {
		select {
		case e := <-events:
			typ := string(e.Event)
			if typ == "" {
				typ = "message"
			}
			got = append(got, sse.Event{ID: string(e.ID), Type: typ, Data: string(e.Data)})
		case <-ctx.Done():
			t.Fatalf("after %d events: %v", len(got), ctx.Err())
		}
	}
	cancel()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
