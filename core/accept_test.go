package sse

import (
	"net/http"
	"testing"
)

func TestAccepts(t *testing.T) {
	tests := []struct {
		name   string
		accept []string // one entry per Accept header line
		want   bool
	}{
		{"eventsource", []string{"text/event-stream"}, true},
		{"no header", nil, false},
		{"empty", []string{""}, false},
		{"curl default", []string{"*/*"}, false},
		{"text wildcard", []string{"text/*"}, false},
		{"browser navigation", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}, false},
		{"json api", []string{"application/json"}, false},
		{"upper case", []string{"TEXT/Event-Stream"}, true},
		{"spaces", []string{"  text/event-stream  ;  q=0.5  "}, true},
		{"tab", []string{"application/json,\ttext/event-stream"}, true},
		{"among others", []string{"application/json;q=0.9, text/event-stream, */*;q=0.1"}, true},
		{"second header line", []string{"application/json", "text/event-stream"}, true},
		{"charset parameter", []string{"text/event-stream; charset=utf-8"}, true},
		{"q one", []string{"text/event-stream;q=1"}, true},
		{"q one with decimals", []string{"text/event-stream;q=1.000"}, true},
		{"q upper case name", []string{"text/event-stream;Q=0.2"}, true},
		{"q small", []string{"text/event-stream;q=0.001"}, true},
		{"q zero", []string{"text/event-stream;q=0"}, false},
		{"q zero decimals", []string{"text/event-stream;q=0.000"}, false},
		{"q zero wins", []string{"text/event-stream, text/event-stream;q=0"}, false},
		{"q above one", []string{"text/event-stream;q=1.5"}, false},
		{"q malformed", []string{"text/event-stream;q=high"}, false},
		{"q too many decimals", []string{"text/event-stream;q=0.0001"}, false},
		{"q empty", []string{"text/event-stream;q="}, false},
		{"quoted comma", []string{`text/plain;note="a, text/event-stream", application/json`}, false},
		{"quoted semicolon", []string{`text/event-stream;x="a;q=0";q=0.5`}, true},
		{"escaped quote", []string{`text/plain;x="a\", text/event-stream"`}, false},
		{"prefix only", []string{"text/event-streams"}, false},
		{"trailing comma", []string{"text/event-stream,"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.accept {
				r.Header.Add("Accept", v)
			}
			if got := Accepts(r); got != tt.want {
				t.Errorf("Accepts(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}

func TestNegotiateVaries(t *testing.T) {
	for _, accept := range []string{"text/event-stream", "*/*"} {
		r, err := http.NewRequest(http.MethodGet, "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Accept", accept)
		h := http.Header{"Vary": {"Accept-Encoding"}}
		if got, want := Negotiate(h, r), Accepts(r); got != want {
			t.Errorf("Negotiate(%q) = %v, Accepts = %v", accept, got, want)
		}
		if got := h.Values("Vary"); len(got) != 2 || got[1] != "Accept" {
			t.Errorf("Vary after Negotiate(%q) = %q, want [Accept-Encoding Accept]", accept, got)
		}
	}
}
