package load

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

func TestParseData(t *testing.T) {
	tests := []struct {
		name string
		in   string
		sent int64
		seq  int
		ok   bool
	}{
		{"payload", server.Payload(1712345678901234567, 42, 128), 1712345678901234567, 42, true},
		{"short payload", server.Payload(5, 0, 1), 5, 0, true},
		{"primer", server.Payload(7, -1, 32), 7, -1, true},
		{"no seq", "123 ", 0, 0, false},
		{"not a number", "abc 1 x", 0, 0, false},
		{"empty", "", 0, 0, false},
		{"too long", "12345678901234567890 1 ", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, seq, ok := server.ParsePayload([]byte(tt.in))
			if ok != tt.ok || ok && (sent != tt.sent || seq != tt.seq) {
				t.Errorf("server.ParsePayload(%q) = %d, %d, %v; want %d, %d, %v", tt.in, sent, seq, ok, tt.sent, tt.seq, tt.ok)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	v := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		p    float64
		want int64
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {0, 1}} {
		if got := percentile(v, tt.p); got != tt.want {
			t.Errorf("percentile(1..10, %v) = %d, want %d", tt.p, got, tt.want)
		}
	}
}

// TestEveryImplementationDelivers runs each implementation's server in
// this process and checks that a small fleet of clients receives every
// event once, in order: the measurement path the tool relies on.
func TestEveryImplementationDelivers(t *testing.T) {
	for _, impl := range append(server.Names(), "eventwire-otel") {
		t.Run(impl, func(t *testing.T) { checkDelivers(t, impl) })
	}
}

// checkDelivers serves impl in this process and checks that a small
// fleet of clients receives every event once, in order.
func checkDelivers(t *testing.T, impl string) {
	t.Helper()
	const clients, events = 20, 30
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, impl, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()
	r := &Runner{Sources: NewSources(4), Log: io.Discard, Stall: 5 * time.Second, Limit: 10 * time.Second}
	ctl := newControl(addr)
	defer ctl.close()
	f := NewFleet(events)
	defer f.Close()
	f.Connect(ctx, r.Sources, addr, clients, 8)
	if err := r.prime(ctx, ctl, f, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	res, err := ctl.publish(ctx, events, 100, 0, 0)
	if err != nil || res.Published != events {
		t.Fatalf("publish: %+v, %v", res, err)
	}
	r.drain(ctx, f, clients*events)
	f.Close()
	if len(f.readers) != clients {
		t.Fatalf("%d readers, want %d", len(f.readers), clients)
	}
	for i, rd := range f.readers {
		for seq, l := range rd.lat {
			if l < 0 {
				t.Errorf("reader %d did not receive event %d", i, seq)
			}
		}
		if rd.dups > 0 || rd.reordered > 0 {
			t.Errorf("reader %d: %d duplicates, %d out of order", i, rd.dups, rd.reordered)
		}
	}
}

func TestDialRefusesNonLoopback(t *testing.T) {
	// The context is already canceled, so that nothing is sent even if
	// the check were broken.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewSources(1).Dial(ctx, "192.0.2.1:80")
	if !errors.Is(err, errNotLoopback) {
		t.Fatalf("Dial to a non-loopback address: %v, want %v", err, errNotLoopback)
	}
}

func TestLatestSeqs(t *testing.T) {
	want := make([]int64, server.LatestKeys)
	for k := range want {
		want[k] = int64(100 - 1 - (100-1-k)%server.LatestKeys)
	}
	got := latestSeqs(100)
	for k := range want {
		if got[k] != want[k] || got[k]%server.LatestKeys != int64(k) {
			t.Errorf("latestSeqs(100)[%d] = %d, want %d", k, got[k], want[k])
		}
	}
	if got := latestSeqs(3); got[2] != 2 || got[3] != -1 {
		t.Errorf("latestSeqs(3) = %v, want 0, 1, 2 then -1 for the keys never published", got)
	}
}
