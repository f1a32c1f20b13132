#include "textflag.h"

// func rdtscp() int64
TEXT ·rdtscp(SB), NOSPLIT, $0-8
	RDTSCP  // waits for earlier instructions; EDX:EAX = TSC, ECX = TSC_AUX (unused)
	LFENCE  // later instructions start only after the read
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func cpuid(leaf uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	XORL CX, CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET
