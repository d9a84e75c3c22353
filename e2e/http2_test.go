package e2e

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// hopByHop are the connection-specific header fields that HTTP/2 forbids
// (RFC 9113, section 8.2.2): a response carrying one is malformed, and
// browsers fail the stream (Safari among them).
var hopByHop = []string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}

// checkHTTP2Headers asks addr for path over HTTP/2, speaking the protocol
// frame by frame so that nothing between the wire and the check could drop
// a field, and fails the test unless the response's header block has
// status 200, Content-Type text/event-stream and no hop-by-hop field, and
// an event follows. path must be a stream that sends events by itself.
func checkHTTP2Headers(t *testing.T, addr, path string, cert *certFiles) {
	t.Helper()
	conf := cert.clientConfig("h2")
	conn, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("%s negotiated %q, want h2", addr, p)
	}
	if err := conn.SetDeadline(time.Now().Add(eventTimeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: addr},
		{Name: ":path", Value: path},
		{Name: "accept", Value: "text/event-stream"},
	} {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}

	var fields []hpack.HeaderField
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { fields = append(fields, f) })
	headersDone := false
	var data []byte
	for !bytes.Contains(data, []byte("data: ")) {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading %s from %s over HTTP/2: %v (header fields so far %v, data %q)", path, addr, err, fields, data)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					t.Fatal(err)
				}
			}
		case *http2.HeadersFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			headersDone = f.HeadersEnded()
		case *http2.ContinuationFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			headersDone = f.HeadersEnded()
		case *http2.DataFrame:
			if !headersDone {
				t.Fatalf("DATA before the end of the header block from %s", addr)
			}
			data = append(data, f.Data()...)
			if f.StreamEnded() {
				t.Fatalf("%s ended the stream %s after %q", addr, path, data)
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("%s reset the stream %s: %v", addr, path, f.ErrCode)
		case *http2.GoAwayFrame:
			t.Fatalf("%s sent GOAWAY: %v %q", addr, f.ErrCode, f.DebugData())
		}
	}

	got := map[string]string{}
	for _, f := range fields {
		got[f.Name] = f.Value
		for _, h := range hopByHop {
			if f.Name == h {
				t.Errorf("%s answered %s over HTTP/2 with the hop-by-hop field %s: %q", addr, path, f.Name, f.Value)
			}
		}
		if f.Name == "te" && f.Value != "trailers" {
			t.Errorf("%s answered %s over HTTP/2 with te: %q", addr, path, f.Value)
		}
	}
	if got[":status"] != "200" || !strings.HasPrefix(got["content-type"], "text/event-stream") {
		t.Errorf("%s answered %s over HTTP/2 with status %q and content-type %q, want 200 and text/event-stream; all fields: %v",
			addr, path, got[":status"], got["content-type"], fields)
	}
	t.Logf("%s %s over HTTP/2: %v, then %q", addr, path, fields, data)
}
