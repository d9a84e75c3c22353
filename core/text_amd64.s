//go:build !purego

#include "textflag.h"

// func plainBlocks(p *byte, n int) bool
//
// A byte x is bad if it is not ASCII (x >= 0x80) or it is CR. Taken as a
// signed byte, v = x ^ CR is 0 for CR, negative for a byte that is not
// ASCII and positive for any other; v - 1 with signed saturation has its
// high bit set exactly when v <= 0, that is, for the bad bytes. The high
// bits of 128 bytes are ORed together and tested at once, then those of
// a last 64 if n is not a multiple of 128.
TEXT ·plainBlocks(SB), NOSPLIT, $0-17
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ $0x0d0d0d0d0d0d0d0d, AX
	MOVQ AX, X8
	PUNPCKLQDQ X8, X8 // CR in every byte
	MOVQ $0x0101010101010101, AX
	MOVQ AX, X9
	PUNPCKLQDQ X9, X9 // 1 in every byte

loop128:
	CMPQ CX, $128
	JLT  tail64
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	PXOR   X8, X0
	PXOR   X8, X1
	PXOR   X8, X2
	PXOR   X8, X3
	PXOR   X8, X4
	PXOR   X8, X5
	PXOR   X8, X6
	PXOR   X8, X7
	PSUBSB X9, X0
	PSUBSB X9, X1
	PSUBSB X9, X2
	PSUBSB X9, X3
	PSUBSB X9, X4
	PSUBSB X9, X5
	PSUBSB X9, X6
	PSUBSB X9, X7
	POR    X1, X0
	POR    X3, X2
	POR    X5, X4
	POR    X7, X6
	POR    X2, X0
	POR    X6, X4
	POR    X4, X0
	PMOVMSKB X0, AX
	TESTL  AX, AX
	JNE    bad
	ADDQ   $128, SI
	SUBQ   $128, CX
	JMP    loop128

tail64:
	CMPQ CX, $0
	JEQ  good
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	PXOR   X8, X0
	PXOR   X8, X1
	PXOR   X8, X2
	PXOR   X8, X3
	PSUBSB X9, X0
	PSUBSB X9, X1
	PSUBSB X9, X2
	PSUBSB X9, X3
	POR    X1, X0
	POR    X3, X2
	POR    X2, X0
	PMOVMSKB X0, AX
	TESTL  AX, AX
	JNE    bad

good:
	MOVB $1, ret+16(FP)
	RET

bad:
	MOVB $0, ret+16(FP)
	RET
