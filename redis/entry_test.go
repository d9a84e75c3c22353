package sseredis

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// Every field of a message survives the trip through a stream entry.
func TestEntryRoundTrip(t *testing.T) {
	rs := startRedis(t, persistent...)
	ctx := context.Background()
	b, err := Open(ctx, rs.url())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	direct := directClient(t, rs.addr())

	tests := []struct {
		name string
		msg  sse.Message
	}{
		{"data", sse.Message{Topics: []string{"a"}, Event: sse.Event{Data: "hello"}}},
		{"every field", sse.Message{Topics: []string{"a", "b"}, Event: sse.Event{
			Type: "order", Data: "line\nline\r\n", Comment: "note\nmore", Retry: 1500 * time.Millisecond,
		}}},
		{"comment only", sse.Message{Topics: []string{"a"}, Event: sse.Event{Comment: "ping"}}},
		{"odd topics", sse.Message{Topics: []string{"", "1:x", "with:colons", "ünï\x00"}, Event: sse.Event{Data: "x"}}},
		{"binary-ish data", sse.Message{Topics: []string{"a"}, Event: sse.Event{Data: "\x00\x01 ü " + strings.Repeat("z", 100_000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Publish(ctx, tt.msg); err != nil {
				t.Fatal(err)
			}
			entry := direct.XRevRangeN(ctx, DefaultKey, "+", "-", 1).Val()[0]
			got, err := decodeEntry(entry)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.msg
			want.ID, want.Pos = entry.ID, entry.ID
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %+v\nwant    %+v", got, want)
			}
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
	}{
		{"no topics", map[string]any{fieldData: "x"}},
		{"empty topic list", map[string]any{fieldTopics: ""}},
		{"short topic", map[string]any{fieldTopics: "5:abc"}},
		{"no length", map[string]any{fieldTopics: "abc"}},
		{"negative length", map[string]any{fieldTopics: "-1:a"}},
		{"padded length", map[string]any{fieldTopics: "01:a"}},
		{"retry not a number", map[string]any{fieldTopics: "1:a", fieldRetry: "soon"}},
		{"retry zero", map[string]any{fieldTopics: "1:a", fieldRetry: "0"}},
		{"retry too long", map[string]any{fieldTopics: "1:a", fieldRetry: "9223372036854775807"}},
		{"not a string", map[string]any{fieldTopics: "1:a", fieldData: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg, err := decodeEntry(redis.XMessage{ID: "1-0", Values: tt.values}); err == nil {
				t.Errorf("decodeEntry(%v) = %+v, want an error", tt.values, msg)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"0-0": true, "1700000000000-0": true, "18446744073709551615-18446744073709551615": true,
		"": false, "1": false, "1-": false, "-1": false, "01-0": false, "1-01": false, "+1-0": false,
		"1-0-0": false, "18446744073709551616-0": false, "a-b": false, " 1-0": false,
	} {
		if got := validID(id); got != want {
			t.Errorf("validID(%q) = %v, want %v", id, got, want)
		}
	}
}

// FuzzTopics checks that any topic list survives encoding, and that
// decoding never accepts a text that encoding would not write.
func FuzzTopics(f *testing.F) {
	f.Add("news", "", "4:x:y")
	f.Add("ü", "\x00", "12")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		topics := []string{a, b, c}
		got, err := decodeTopics(encodeTopics(topics))
		if err != nil || !reflect.DeepEqual(got, topics) {
			t.Fatalf("round trip of %q: %q, %v", topics, got, err)
		}
		if got, err := decodeTopics(a); err == nil && encodeTopics(got) != a {
			t.Fatalf("decodeTopics(%q) = %q, which encodes as %q", a, got, encodeTopics(got))
		}
	})
}
