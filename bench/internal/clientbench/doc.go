// Package clientbench checks that this module's client and the clients of
// go-sse and r3labs/sse read each other's servers alike, and benchmarks
// the three clients on the same recorded stream. It has tests only.
package clientbench
