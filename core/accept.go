package sse

import (
	"net/http"
	"strings"
)

// Accepts reports whether r asks for an event stream: one of its Accept
// headers lists the media range text/event-stream with a quality above
// zero. Media types and parameter names are matched without regard to
// case, and any spacing, parameters and quoted strings are understood.
//
// Wildcards do not count: a browser navigating to the URL or a plain curl
// sends */* and should get the ordinary response. An explicit
// text/event-stream;q=0 refuses the stream even if another range lists it.
func Accepts(r *http.Request) bool {
	accepted := false
	for _, header := range r.Header.Values("Accept") {
		for header != "" {
			var mediaRange string
			mediaRange, header = cutUnquoted(header, ',')
			mediaType, params, _ := strings.Cut(mediaRange, ";")
			if !strings.EqualFold(strings.TrimSpace(mediaType), "text/event-stream") {
				continue
			}
			if quality(params) {
				accepted = true
			} else {
				return false
			}
		}
	}
	return accepted
}

// Negotiate is [Accepts] for a URL that answers both ways, a stream to
// EventSource clients and an ordinary response to the others: it also adds
// "Vary: Accept" to h, the response's headers, so that caches keep the two
// apart.
func Negotiate(h http.Header, r *http.Request) bool {
	h.Add("Vary", "Accept")
	return Accepts(r)
}

// cutUnquoted splits s at the first sep that is not inside a quoted
// string, as HTTP lists and parameters are split.
func cutUnquoted(s string, sep byte) (before, after string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// quality reports whether the media-range parameters params give a weight
// above zero. No q parameter means 1; a malformed weight counts as zero.
func quality(params string) bool {
	for params != "" {
		var param string
		param, params = cutUnquoted(params, ';')
		name, value, _ := strings.Cut(param, "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			return positiveQValue(strings.TrimSpace(value))
		}
	}
	return true
}

// positiveQValue reports whether v is a well-formed qvalue (RFC 9110:
// "0" or "1" with up to three decimals, at most 1) above zero.
func positiveQValue(v string) bool {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return false
	}
	frac := v[1:]
	if frac != "" {
		if frac[0] != '.' {
			return false
		}
		frac = frac[1:]
	}
	nonzero := false
	for i := 0; i < len(frac); i++ {
		switch {
		case frac[i] < '0' || frac[i] > '9':
			return false
		case frac[i] != '0':
			nonzero = true
		}
	}
	if v[0] == '1' {
		return !nonzero
	}
	return nonzero
}
