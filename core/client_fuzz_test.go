package sse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// fuzzResponse is one answer of the fuzzed server.
type fuzzResponse struct {
	kind int // see fuzzKinds
	body []byte
	cut  bool // the body ends with a network error instead of io.EOF
}

// fuzzKinds are what a fuzzed server can answer.
var fuzzKinds = []string{"stream", "stream", "stream", "stream", "204", "503", "404", "text/plain"}

// parseFuzzScript turns bytes into responses: a byte that picks the kind
// (and whether the body is cut), a length byte, that many body bytes.
func parseFuzzScript(p []byte) []fuzzResponse {
	var rs []fuzzResponse
	for len(p) >= 2 {
		n := min(int(p[1]), len(p)-2)
		rs = append(rs, fuzzResponse{kind: int(p[0]) % len(fuzzKinds), cut: p[0]&0x80 != 0, body: p[2 : 2+n]})
		p = p[2+n:]
	}
	return rs
}

// fuzzTransport answers requests from a script, recording them; once the
// script is done it answers 204.
type fuzzTransport struct {
	script []fuzzResponse
	reqs   []http.Header
}

// errCut is what the body of a cut connection returns.
var errCut = errors.New("connection reset by fuzz")

type cutReader struct{ r io.Reader }

func (c cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		err = errCut
	}
	return n, err
}

func (ft *fuzzTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ft.reqs = append(ft.reqs, req.Header.Clone())
	resp := &http.Response{StatusCode: http.StatusNoContent, Header: make(http.Header), Body: http.NoBody, Request: req}
	if len(ft.reqs) > len(ft.script) {
		return resp, nil
	}
	r := ft.script[len(ft.reqs)-1]
	var body io.Reader = bytes.NewReader(r.body)
	if r.cut {
		body = cutReader{body}
	}
	resp.Body = io.NopCloser(body)
	switch fuzzKinds[r.kind] {
	case "stream":
		resp.StatusCode = http.StatusOK
		resp.Header.Set("Content-Type", "text/event-stream")
	case "204":
	case "503":
		resp.StatusCode = http.StatusServiceUnavailable
		resp.Header.Set("Retry-After", string(r.body)) // seconds, a date or junk, of any size
	case "404":
		resp.StatusCode = http.StatusNotFound
	case "text/plain":
		resp.StatusCode = http.StatusOK
		resp.Header.Set("Content-Type", "text/plain")
	}
	return resp, nil
}

// FuzzClient drives the client with random server behaviour (streams cut
// anywhere, statuses, wrong content types, any Retry-After) and checks it
// against the
// standard's reading of each response: the events, the Last-Event-ID of
// each request (none when a header could not carry the ID back), the IDs
// dropped, how the iteration ends, and that no delay exceeds what a
// server may ask.
func FuzzClient(f *testing.F) {
	f.Add([]byte("\x00\x0fid: 1\ndata: a\n\n\x00\x06data: "))
	f.Add([]byte("\x80\x14id: é\ndata: a\n\nid: 2\x05\x00\x00\x10id\ndata: b\n\nid:\x06\x00"))
	f.Add([]byte("\x00\x0aid: a\x01b\n\n\x00\x00"))
	f.Add([]byte("\x00\x0eid:  2\ndata:\n\n\x00\x08id: 3 \n\n\x00\x00"))
	f.Add([]byte("\x00\x12\xEF\xBB\xBFretry: 5\rdata: x\r\r\x07\x00"))
	f.Add([]byte("\x00\x0bdata: x\r\n\r\n\x06\x03404"))
	f.Add([]byte("\x05\x0a4294967295\x05\x1dFri, 31 Dec 9999 23:59:59 GMT\x00\x15retry: 9000000000000\n\x05\x00"))
	f.Add([]byte("\x80\x11data: a\n\ndata: b\n\x00\x09data: c\n\n"))
	f.Add([]byte("0\x14id:0000000000\n\n0000000data:\n\n")) // an ID alone, then a reconnection
	f.Fuzz(func(t *testing.T, p []byte) {
		script := parseFuzzScript(p)
		ft := &fuzzTransport{script: script}
		var w waits
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://fuzz.test/", nil)
		var got []Event
		var gotErr error
		var dropped []string
		hook := WithReconnectHook(func(r Reconnect) { dropped = append(dropped, r.DroppedID) })
		for ev, err := range Events(&http.Client{Transport: ft}, req, w.option(), hook) {
			if gotErr != nil {
				t.Fatalf("yielded %+v, %v after the error %v", ev, err, gotErr)
			}
			if err != nil {
				gotErr = err
				continue
			}
			ev.Retry = 0 // the reference reading does not report it
			got = append(got, ev)
		}

		// What the standard makes of the script.
		var want []Event
		var wantErr error
		var wantDropped []string
		lastID, firedID, requests := "", "", 0
	script:
		for _, r := range append(script, fuzzResponse{kind: 4}) { // then 204
			if requests > 0 { // a reconnection
				// A header cannot carry a control character, and loses
				// spaces at either end: such an ID is dropped.
				if strings.ContainsFunc(lastID, func(c rune) bool { return c < ' ' || c == 0x7F }) ||
					strings.HasPrefix(lastID, " ") || strings.HasSuffix(lastID, " ") {
					wantDropped = append(wantDropped, lastID)
					lastID, firedID = "", ""
				} else {
					wantDropped = append(wantDropped, "")
				}
			}
			requests++
			if h := ft.reqs[requests-1]; h.Get("Last-Event-ID") != lastID {
				t.Fatalf("request %d: Last-Event-ID %q, want %q", requests, h.Get("Last-Event-ID"), lastID)
			}
			switch fuzzKinds[r.kind] {
			case "stream":
				// An ID set alone before the reconnection is still news
				// to whoever reads the events: the next one carries it.
				var events []Event
				events, lastID, firedID, _ = refDecodeResume(r.body, lastID, firedID)
				want = append(want, events...)
			case "204":
				break script
			case "503":
			case "404":
				wantErr = ErrBadStatus
				break script
			case "text/plain":
				wantErr = ErrNotEventStream
				break script
			}
		}
		if wantErr == nil && gotErr != nil || wantErr != nil && !errors.Is(gotErr, wantErr) {
			t.Fatalf("error %v, want %v", gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("events =\n%s\nwant\n%s", formatEvents(got), formatEvents(want))
		}
		if len(ft.reqs) != requests {
			t.Fatalf("%d requests, want %d", len(ft.reqs), requests)
		}
		if !reflect.DeepEqual(dropped, wantDropped) {
			t.Fatalf("IDs dropped at each reconnection %q, want %q", dropped, wantDropped)
		}
		// A delay before each request but the first.
		if d := w.get(); len(d) != requests-1 {
			t.Fatalf("%d reconnection delays for %d requests", len(d), requests)
		}
		for _, d := range w.get() {
			if d < 0 || d > max(DefaultMaxReconnectDelay, MaxServerDelay) {
				t.Fatalf("reconnection delay %v", d)
			}
		}
	})
}
