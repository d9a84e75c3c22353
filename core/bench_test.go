package sse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchEvents are the events the encoder benchmarks encode.
var benchEvents = []struct {
	name string
	ev   Event
}{
	{"small", Event{ID: "12345", Type: "update", Data: `{"price":101.25,"symbol":"ACME"}`}},
	{"multiline", Event{ID: "12345", Type: "log", Data: strings.Repeat("a log line of moderate length\n", 8)}},
	{"8KiB", Event{ID: "12345", Type: "blob", Data: strings.Repeat("x", 8<<10)}},
}

// appendByHand is the baseline: the same frame appended by code that knows
// its shape and checks nothing, as a minimal hand-written broadcaster does.
func appendByHand(b []byte, id, typ, data string) []byte {
	b = append(b, "id: "...)
	b = append(b, id...)
	b = append(b, "\nevent: "...)
	b = append(b, typ...)
	b = append(b, '\n')
	for {
		i := strings.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		b = append(b, "data: "...)
		b = append(b, data[:i+1]...)
		data = data[i+1:]
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

func TestAppendByHandMatches(t *testing.T) {
	for _, tt := range benchEvents {
		got, err := tt.ev.AppendText(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := appendByHand(nil, tt.ev.ID, tt.ev.Type, tt.ev.Data); string(got) != string(want) {
			t.Errorf("%s: the baseline encodes a different frame:\n got %q\nwant %q", tt.name, got, want)
		}
	}
}

func TestAppendTextAllocatesNothing(t *testing.T) {
	for _, tt := range benchEvents {
		buf := make([]byte, 0, 16<<10)
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if buf, err = tt.ev.AppendText(buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per event, want 0", tt.name, allocs)
		}
	}
}

// BenchmarkEncode compares Event.AppendText with the hand-written baseline
// on the same frames; the goal is at most 2x the baseline's time.
func BenchmarkEncode(b *testing.B) {
	for _, tt := range benchEvents {
		b.Run(tt.name+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.ev.Data)))
			var buf []byte
			for b.Loop() {
				buf = appendByHand(buf[:0], tt.ev.ID, tt.ev.Type, tt.ev.Data)
			}
		})
		b.Run(tt.name+"/sse", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.ev.Data)))
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = tt.ev.AppendText(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSend measures a whole Send: encode, write and flush to a
// discarding writer.
func BenchmarkSend(b *testing.B) {
	for _, tt := range benchEvents {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.ev.Data)))
			err := StreamTo(b.Context(), discardFlusher{}, func(s *Stream) error {
				for b.Loop() {
					if err := s.Send(tt.ev); err != nil {
						return err
					}
				}
				return nil
			}, WithHeartbeat(0))
			if err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		v := struct {
			Symbol string  `json:"symbol"`
			Price  float64 `json:"price"`
		}{"ACME", 101.25}
		err := StreamTo(b.Context(), discardFlusher{}, func(s *Stream) error {
			for i := 0; b.Loop(); i++ {
				if err := s.Send(Event{ID: strconv.Itoa(i), JSON: v}); err != nil {
					return err
				}
			}
			return nil
		}, WithHeartbeat(0))
		if err != nil {
			b.Fatal(err)
		}
	})
}

type discardFlusher struct{}

func (discardFlusher) Write(p []byte) (int, error) { return len(p), nil }
func (discardFlusher) Flush() error                { return nil }

// BenchmarkHubPublish measures the time inside one Hub.Publish of a small
// event to one topic, by the audience's size and the number of concurrent
// publishers, with p50 and p99 of the single calls as extra metrics. The
// subscribers write to discarding writers on their own goroutines, as
// handlers do. The ratio of the p99 at 20,000 subscribers to the p99 at
// 100 shows how the cost grows with the audience.
func BenchmarkHubPublish(b *testing.B) {
	for _, subscribers := range []int{100, 1000, 20000} {
		for _, publishers := range []int{1, 8} {
			b.Run(fmt.Sprintf("subscribers=%d/publishers=%d", subscribers, publishers), func(b *testing.B) {
				benchHubPublish(b, subscribers, publishers)
			})
		}
	}
}

// benchHub returns a hub made with opts and subscribers streams to its
// topic "t" over w, each on a goroutine of its own, and the context that
// ends them; both end with the benchmark.
func benchHub(b *testing.B, subscribers int, w FlushWriter, opts ...HubOption) (*Hub, context.Context) {
	hub, err := NewHub(opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		hub.Close()
	})
	for range subscribers {
		wg.Go(func() { StreamTo(ctx, w, hub.StreamFunc("t"), WithHeartbeat(0)) })
	}
	for hub.Stats().Subscribers < subscribers {
		time.Sleep(time.Millisecond)
	}
	return hub, ctx
}

func benchHubPublish(b *testing.B, subscribers, publishers int) {
	hub, ctx := benchHub(b, subscribers, discardFlusher{}, WithQueueSize(4096), WithSlowPolicy(DropOldest), WithHistory(HistoryLimits{Count: 1000}))
	ev := benchEvents[0].ev
	ev.ID = ""
	var mu sync.Mutex
	var took []time.Duration
	publish := func(next func() bool) {
		var mine []time.Duration
		for next() {
			start := time.Now()
			if err := hub.Publish(ctx, ev, "t"); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		took = append(took, mine...)
		mu.Unlock()
	}
	if publishers == 1 {
		publish(b.Loop)
	} else {
		// RunParallel runs parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, publishers/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) { publish(pb.Next) })
	}
	b.StopTimer()
	slices.Sort(took)
	if len(took) > 0 {
		b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
	}
}

// BenchmarkHubFanOutTopics measures what an event to one topic costs while
// the hub's fan-out is the bottleneck, by the number of topics of the one
// subscriber of that topic: the time per Publish, which waits for the
// fan-out once its queue is full. It should not grow with the topics.
func BenchmarkHubFanOutTopics(b *testing.B) {
	for _, topics := range []int{1, 100, 100_000} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) {
			benchHubFanOutTopics(b, topics)
		})
	}
}

func benchHubFanOutTopics(b *testing.B, n int) {
	hub, err := NewHub(WithQueueSize(4096), WithSlowPolicy(DropOldest), WithHistory(HistoryLimits{Count: 1000}), WithMaxTopics(0))
	if err != nil {
		b.Fatal(err)
	}
	defer hub.Close()
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	const topic = "t-0000000"
	topics := make([]string, n) // of the same length, the one published to last
	for i := range n - 1 {
		topics[i] = fmt.Sprintf("x-%07d", i)
	}
	topics[n-1] = topic
	wg.Go(func() { StreamTo(ctx, discardFlusher{}, hub.StreamFunc(topics...), WithHeartbeat(0)) })
	for hub.Stats().Subscribers < 1 {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	ev := benchEvents[0].ev
	ev.ID = ""
	for b.Loop() {
		if err := hub.Publish(ctx, ev, topic); err != nil {
			b.Fatal(err)
		}
	}
}

// flushCounter counts its flushes in n.
type flushCounter struct{ n *atomic.Int64 }

func (flushCounter) Write(p []byte) (int, error) { return len(p), nil }
func (c flushCounter) Flush() error              { c.n.Add(1); return nil }

// BenchmarkHubDeliver measures one event from Hub.Publish until every
// subscriber has written and flushed it: the fan-out, each subscriber's
// wake-up and its write, per event (divide by the subscribers for the
// cost of one delivery).
func BenchmarkHubDeliver(b *testing.B) {
	for _, subscribers := range []int{10, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subscribers), func(b *testing.B) {
			var flushes atomic.Int64
			hub, ctx := benchHub(b, subscribers, flushCounter{&flushes}, WithQueueSize(4096))
			ev := benchEvents[0].ev
			ev.ID = ""
			want := flushes.Load()
			for b.Loop() {
				if err := hub.Publish(ctx, ev, "t"); err != nil {
					b.Fatal(err)
				}
				want += int64(subscribers)
				for flushes.Load() < want {
					runtime.Gosched()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subscribers), "ns/delivery")
		})
	}
}

// BenchmarkHubDeliverHTTP is BenchmarkHubDeliver over real HTTP/1.1
// connections on loopback, with the default heartbeat and write timeout:
// one event from Hub.Publish until every client has read it, so it counts
// the fan-out, the wake-ups, the write deadlines and the writes, and the
// clients' reads, which run in the same process. ns/delivery is what one
// event to one idle stream costs both sides.
func BenchmarkHubDeliverHTTP(b *testing.B) {
	const streams = 1000
	hub, err := NewHub()
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(Handler(hub.StreamFunc("t")))
	var got, target atomic.Int64
	all := make(chan struct{}, 1)
	var conns []net.Conn
	var readers sync.WaitGroup
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
		srv.Close()
		hub.Close()
	})
	for range streams {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		readers.Go(func() {
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("data: ")) && got.Add(1) == target.Load() {
					all <- struct{}{}
				}
			}
		})
	}
	for hub.Stats().Subscribers < streams {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	ev := Event{Data: "tick"}
	for b.Loop() {
		target.Add(streams)
		if err := hub.Publish(ctx, ev, "t"); err != nil {
			b.Fatal(err)
		}
		<-all
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*streams), "ns/delivery")
}
