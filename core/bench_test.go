package sse

import (
	"strconv"
	"strings"
	"testing"
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
