// Package peers holds tests that run the same Server-Sent Events scenarios
// against eventwire and against the peer libraries gin (gin.Context.Render
// with github.com/gin-contrib/sse), github.com/tmaxmax/go-sse and
// github.com/r3labs/sse/v2, and decode what each one puts on the wire as a
// browser would, with eventwire's spec-exact Decoder. Each test asserts the
// behaviour measured for each library, so a comparison built on them stays
// true: a peer that changes its behaviour fails the test.
//
// The package has no code of its own outside its tests.
package peers
