package sseredis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// containsAll reports whether s holds every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// A configuration that cannot work fails at start, quickly, with an error
// that says what is wrong.
func TestOpenReportsBadConfiguration(t *testing.T) {
	open := startRedis(t, persistent...)
	locked := startRedis(t, append([]string{"--requirepass", "secret"}, persistent...)...)
	closedPort := freePort(t)

	tests := []struct {
		name string
		url  string
		want []string // in the error; none: no error
	}{
		{"wrong port", "redis://127.0.0.1:" + strconv.Itoa(closedPort),
			[]string{"cannot reach Redis at 127.0.0.1:" + strconv.Itoa(closedPort), "connection refused"}},
		{"wrong password", "redis://:wrong@" + locked.addr(),
			[]string{"Redis at " + locked.addr() + " refused authentication", "WRONGPASS"}},
		{"no password", "redis://" + locked.addr(),
			[]string{"Redis at " + locked.addr() + " refused authentication", "NOAUTH"}},
		{"not a Redis URL", "http://" + open.addr(), []string{"bad Redis URL"}},
		{"right password", "redis://:secret@" + locked.addr(), nil},
		{"no password needed", open.url(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			b, err := Open(context.Background(), tt.url)
			elapsed := time.Since(start)
			if err == nil {
				b.Close()
			}
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Open: %v", err)
			case tt.want != nil && (err == nil || !containsAll(err.Error(), tt.want...)):
				t.Errorf("Open = %v, want an error saying %q", err, tt.want)
			}
			if elapsed > 3*time.Second {
				t.Errorf("Open took %v, want under 3s", elapsed)
			}
		})
	}
}

// A stream key that holds something else makes the hub fail at start.
func TestNewHubFailsOnKeyOfAnotherType(t *testing.T) {
	rs := startRedis(t, persistent...)
	ctx := context.Background()
	directClient(t, rs.addr()).Set(ctx, "taken", "a string", 0)
	b, err := Open(ctx, rs.url(), WithKey("taken"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if hub, err := sse.NewHub(sse.WithBackend(b)); err == nil || !containsAll(err.Error(), "WRONGTYPE") {
		t.Errorf("NewHub = %v, want a WRONGTYPE error", err)
		if hub != nil {
			hub.Close()
		}
	}
}

func TestNewRefusesNilClient(t *testing.T) {
	if _, err := New(context.Background(), nil); err == nil {
		t.Error("New(nil client) succeeded")
	}
}

func TestHashTag(t *testing.T) {
	tests := []struct{ key, want string }{
		{"sse:events", "{sse:events}"},
		{"{chat}:events", "{chat}:events"},
		{"a{b}c", "a{b}c"},
		{"{}x", "{}x"}, // an empty tag is no tag, and braces would make one
		{"x}{", "x}{"},
	}
	for _, tt := range tests {
		if got := hashTag(tt.key); got != tt.want {
			t.Errorf("hashTag(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// The Redis history defaults to one topic's of the in-memory hub, so that
// switching backends keeps the replay horizon of a hub with one topic.
func TestDefaultsMatchInMemoryHub(t *testing.T) {
	if DefaultMaxLen != sse.DefaultHistoryPerTopic || DefaultMaxAge != sse.DefaultHistoryAge {
		t.Errorf("DefaultMaxLen, DefaultMaxAge = %d, %v; the in-memory hub keeps %d events a topic for %v",
			DefaultMaxLen, DefaultMaxAge, sse.DefaultHistoryPerTopic, sse.DefaultHistoryAge)
	}
}
