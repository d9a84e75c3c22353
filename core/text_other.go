//go:build !amd64 || purego

package sse

import "unsafe"

// plainBlocks reports whether the n bytes at p, n a multiple of 64, are
// ASCII without CR.
func plainBlocks(p *byte, n int) bool {
	return plainASCII(unsafe.String(p, n))
}
