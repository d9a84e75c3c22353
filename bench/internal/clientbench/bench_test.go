package clientbench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	r3sse "github.com/r3labs/sse/v2"
	gosse "github.com/tmaxmax/go-sse"
)

// benchEvents is how many events one recorded stream holds.
const benchEvents = 1000

// recordStream returns the stream a server sends for benchEvents events
// with an increasing ID and size bytes of data each, as this module's
// encoder writes them.
func recordStream(size int) []byte {
	var b []byte
	for i := 1; i <= benchEvents; i++ {
		data := `{"seq":` + strconv.Itoa(i) + `,"text":"`
		data += strings.Repeat("x", max(size-len(data)-2, 0)) + `"}`
		var err error
		if b, err = (&sse.Event{ID: strconv.Itoa(i), Data: data}).AppendText(b); err != nil {
			panic(err)
		}
	}
	return b
}

// replay is a transport that answers the first request with the recorded
// stream, from memory, and every later one with 204 No Content, so that
// the clients measure decoding, not the network.
type replay struct {
	stream []byte
	calls  atomic.Int64
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := &http.Response{StatusCode: http.StatusNoContent, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header), Body: http.NoBody, Request: req}
	if r.calls.Add(1) == 1 {
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		resp.Header.Set("Content-Type", "text/event-stream")
		resp.Body = io.NopCloser(bytes.NewReader(r.stream))
	}
	return resp, nil
}

// clients are the readers under test. Each reads the whole recorded stream
// through its library's public client API and returns the events it got.
var clients = []struct {
	name string
	read func(tr *replay) int
}{
	{"eventwire", func(tr *replay) int {
		req, _ := http.NewRequest(http.MethodGet, "http://bench.test/", nil)
		n := 0
		for _, err := range sse.Events(&http.Client{Transport: tr}, req) {
			if err != nil {
				panic(err)
			}
			if n++; n == benchEvents {
				break
			}
		}
		return n
	}},
	{"go-sse", func(tr *replay) int {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://bench.test/", nil)
		conn := (&gosse.Client{HTTPClient: &http.Client{Transport: tr}}).NewConnection(req)
		n := 0
		conn.SubscribeToAll(func(gosse.Event) {
			if n++; n == benchEvents {
				cancel()
			}
		})
		conn.Connect()
		return n
	}},
	{"r3labs", func(tr *replay) int {
		c := r3sse.NewClient("http://bench.test/")
		c.Connection = &http.Client{Transport: tr}
		n := 0
		// It returns when the stream ends (it does not reconnect after a
		// clean end).
		c.SubscribeRawWithContext(context.Background(), func(*r3sse.Event) { n++ })
		return n
	}},
}

// BenchmarkClient reads the same recorded stream with each client:
// events/s and allocations per event, the stream's allocations per
// connection included.
func BenchmarkClient(b *testing.B) {
	for _, size := range []int{128, 8 << 10} {
		stream := recordStream(size)
		for _, c := range clients {
			b.Run(c.name+"/"+sizeName(size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(stream)))
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for b.Loop() {
					if n := c.read(&replay{stream: stream}); n != benchEvents {
						b.Fatalf("read %d events, want %d", n, benchEvents)
					}
				}
				runtime.ReadMemStats(&after)
				events := float64(b.N * benchEvents)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
				b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/events, "allocs/event")
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// TestClientsReadTheRecording checks the benchmark's premise: every client
// reads every event of the recording, with its data intact.
func TestClientsReadTheRecording(t *testing.T) {
	stream := recordStream(128)
	for _, c := range clients {
		if n := c.read(&replay{stream: stream}); n != benchEvents {
			t.Errorf("%s read %d events, want %d", c.name, n, benchEvents)
		}
	}
	var last sse.Event
	tr := &replay{stream: stream}
	req, _ := http.NewRequest(http.MethodGet, "http://bench.test/", nil)
	for ev, err := range sse.Events(&http.Client{Transport: tr}, req, sse.WithReconnectDelay(time.Millisecond)) {
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Data) != 128 {
			t.Fatalf("event %s: %d bytes of data, want 128", ev.ID, len(ev.Data))
		}
		last = ev
	}
	if last.ID != strconv.Itoa(benchEvents) {
		t.Errorf("last event %q, want %d", last.ID, benchEvents)
	}
}
