//go:build !purego

package sse

// plainBlocks reports whether the n bytes at p, n a multiple of 64, are
// ASCII without CR. It is written in assembly with SSE2, which every amd64
// processor has, and reads 128 bytes per step.
//
//go:noescape
func plainBlocks(p *byte, n int) bool
