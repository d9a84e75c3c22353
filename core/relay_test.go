package sse

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestRelayCopiesEvents proxies a stream as an application would, reading
// it with Events and sending each event on with Send, and checks that the
// proxy's client receives the upstream's frames as they were: an event
// without an ID of its own gets none, an ID set alone reaches the client
// with the next event, an empty id clears it.
func TestRelayCopiesEvents(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Last-Event-ID") != "" {
			w.WriteHeader(http.StatusNoContent) // the proxy's reconnect: the stream is over
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "id: 1\ndata: a\n\n"+
			"data: b\n\n"+
			"event: token\ndata: c\n\n"+
			"id: 5\n\n"+
			"data: d\n\n"+
			"id\ndata: e\n\n"+
			"data: f\n\n"+
			"id: 7\ndata: [DONE]\n\n")
	}))
	defer upstream.Close()
	proxy := httptest.NewServer(Handler(func(s *Stream) error {
		for ev, err := range Events(upstream.Client(), mustRequest(t, upstream.URL), WithReconnectDelay(time.Millisecond)) {
			if err != nil {
				return err
			}
			if err := s.Send(ev); err != nil {
				return err
			}
		}
		return nil
	}, WithHeartbeat(0)))
	defer proxy.Close()

	resp, err := proxy.Client().Do(mustRequest(t, proxy.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 1\ndata: a\n\n" +
		"data: b\n\n" +
		"event: token\ndata: c\n\n" +
		"id: 5\ndata: d\n\n" +
		"id:\ndata: e\n\n" +
		"data: f\n\n" +
		"id: 7\ndata: [DONE]\n\n"
	if string(got) != want {
		t.Errorf("the proxy's client received\n%q\nwant\n%q", got, want)
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	return req
}
