package sse

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// plainTextByRule is plainText as its doc states it, one byte at a time.
func plainTextByRule(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] == '\r' {
			return false
		}
	}
	return true
}

// plainText agrees with the rule for every length up to a few blocks,
// every start offset within a block, and a bad byte (CR, a high byte, or a
// byte next to CR in value) at every position.
func TestPlainText(t *testing.T) {
	base := []byte(strings.Repeat("abcdefghij\n0123456789 {}:\"\x00\x7f", 12))
	for start := range 64 {
		for n := 0; start+n <= len(base) && n <= 260; n++ {
			s := string(base[start : start+n])
			if got, want := plainText(s), plainTextByRule(s); got != want {
				t.Fatalf("plainText(%q) = %v, want %v", s, got, want)
			}
			if n == 0 || n%7 != 0 && n < 200 {
				continue
			}
			for _, bad := range []byte{'\r', 0x80, 0xff, 0x0c, 0x0e, 0x8d} {
				for i := 0; i < n; i += 1 + n/40 {
					b := []byte(s)
					b[i] = bad
					if got, want := plainText(string(b)), plainTextByRule(string(b)); got != want {
						t.Fatalf("plainText(%q) = %v, want %v (byte %#x at %d)", b, got, want, bad, i)
					}
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.IntN(128))
			if r.IntN(200) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		if got, want := plainText(string(b)), plainTextByRule(string(b)); got != want {
			t.Fatalf("plainText(%q) = %v, want %v", b, got, want)
		}
	}
}
