package ssetest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
	"github.com/eventwire/sse/ssetest"
)

// TestFailures checks that the kit fails the user's test when it should,
// with a message that says what was expected and what arrived, and only
// then: the passing case reports nothing.
func TestFailures(t *testing.T) {
	leaktest.Check(t)
	const timeout = 200 * time.Millisecond
	short := ssetest.WithTimeout(timeout)
	release := make(chan struct{}) // lets the stuck handlers return once the case is over
	sendAndStick := func(s *sse.Stream) error {
		if err := s.Send(sse.Event{ID: "1", Data: "ready"}); err != nil {
			return err
		}
		<-release // the bug: it never looks at s.Done()
		return nil
	}
	waitForClient := func(s *sse.Stream) error {
		<-s.Done()
		return nil
	}
	tests := []struct {
		name  string
		test  func(t testing.TB)
		fatal bool
		want  [][]string // the substrings of each report, in order
	}{
		{
			name: "passes",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					if err := s.Send(sse.Event{ID: "1", Data: "a"}); err != nil {
						return err
					}
					return waitForClient(s)
				}), nil, short)
				c.Next()
				c.Reconnect()
				c.Next()
			},
		},
		{
			name: "handler does not return after Close",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(sendAndStick), nil, short)
				c.Next()
				c.Close()
			},
			want: [][]string{{"the handler did not return within 200ms after the client left", "ssetest_test.TestFailures"}},
		},
		{
			name: "handler does not return when the test ends",
			test: func(t testing.TB) {
				ssetest.Open(t, sse.Handler(sendAndStick), nil, short).Next()
			},
			want: [][]string{{"the handler did not return within 200ms after the client left", "ssetest_test.TestFailures"}},
		},
		{
			name: "handler does not return over HTTP/2",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(sendAndStick), nil, short, ssetest.WithHTTP2())
				c.Next()
				c.Reconnect()
				c.Next()
			},
			want: [][]string{
				{"the handler did not return within 200ms after the client left", "ssetest_test.TestFailures"},
				{"the handler did not return within 200ms after the client left", "ssetest_test.TestFailures"},
			},
		},
		{
			name: "no event in time",
			test: func(t testing.TB) {
				ssetest.Open(t, sse.Handler(waitForClient), nil, short).Next()
				t.Errorf("Next returned")
			},
			fatal: true,
			want:  [][]string{{"ssetest: Next: no event within 200ms", "No events so far."}},
		},
		{
			name: "too few events in time",
			test: func(t testing.TB) {
				ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					if err := s.Send(sse.Event{ID: "1", Data: "only"}); err != nil {
						return err
					}
					return waitForClient(s)
				}), nil, short).Take(3)
			},
			fatal: true,
			want:  [][]string{{"ssetest: Take(3): got 1 event of 3 within 200ms", "Events so far:\n\t1. {ID:\"1\" Type:\"message\" Data:\"only\"}"}},
		},
		{
			name: "stream ended early",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					return s.Send(sse.Event{ID: "5", Type: "last", Data: "bye"})
				}), nil, short)
				c.Take(2)
			},
			fatal: true,
			want:  [][]string{{"ssetest: Take(2): the handler ended the stream after 1 event, want 2", `1. {ID:"5" Type:"last" Data:"bye"}`}},
		},
		{
			name: "stream does not end",
			test: func(t testing.TB) {
				ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					for {
						if err := s.Send(sse.Event{Data: "tick"}); err != nil {
							return err
						}
					}
				}), nil, short).Rest()
			},
			fatal: true,
			want:  [][]string{{"ssetest: Rest: the handler did not end the stream within 200ms", "Events so far:\n\t...\n\t"}},
		},
		{
			name: "refused",
			test: func(t testing.TB) {
				ssetest.Open(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "no entry", http.StatusForbidden)
				}), nil, short).Next()
			},
			fatal: true,
			want:  [][]string{{`ssetest: Next: want an event stream, got 403 Forbidden (Content-Type "text/plain; charset=utf-8"): "no entry\n"`}},
		},
		{
			name: "no headers",
			test: func(t testing.TB) {
				ssetest.Open(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					<-r.Context().Done()
				}), nil, short)
			},
			fatal: true,
			want:  [][]string{{"ssetest: Open: no response headers within 200ms"}},
		},
		{
			name: "read after Close",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(waitForClient), nil, short)
				c.Close()
				c.Next()
			},
			fatal: true,
			want:  [][]string{{"ssetest: Next: the connection is closed; Reconnect opens another"}},
		},
		{
			name: "panic",
			test: func(t testing.TB) {
				ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					if err := s.Send(sse.Event{Data: "before"}); err != nil {
						return err
					}
					panic("boom")
				}), nil, short).Take(2)
			},
			fatal: true,
			want:  [][]string{{"ssetest: Take(2): after 1 event: ", "The handler panicked: boom", "ssetest_test.TestFailures"}},
		},
		{
			name: "panic seen by Close",
			test: func(t testing.TB) {
				c := ssetest.Open(t, sse.Handler(func(s *sse.Stream) error {
					if err := s.Send(sse.Event{Data: "before"}); err != nil {
						return err
					}
					panic("late boom")
				}), nil, short)
				c.Next()
				c.Close()
			},
			want: [][]string{{"ssetest: the handler panicked: late boom", "ssetest_test.TestFailures"}},
		},
		{
			name: "panic before the headers",
			test: func(t testing.TB) {
				c := ssetest.Open(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Write([]byte("ok"))
					panic("early boom")
				}), nil, short)
				c.Close()
			},
			fatal: true,
			want:  [][]string{{"ssetest: Open: ", "The handler panicked: early boom", "ssetest_test.TestFailures"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := run(tt.test)
			if f.fatal != tt.fatal {
				t.Errorf("fatal = %v, want %v; %s", f.fatal, tt.fatal, f)
			}
			if len(f.reports) != len(tt.want) {
				t.Fatalf("want %d report(s); %s", len(tt.want), f)
			}
			for i, want := range tt.want {
				for _, s := range want {
					if !strings.Contains(f.reports[i], s) {
						t.Errorf("report %d does not say %q:\n%s", i, s, f.reports[i])
					}
				}
			}
		})
	}
	close(release)
}
