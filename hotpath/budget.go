package hotpath

import "unsafe"

// PageBytes is the model's memory per page of the file: page and PTE
// state, the extent map entry, and with the oracle its shadow of every
// region of the page.
func PageBytes(oracle bool) int64 {
	n := int64(unsafe.Sizeof(page{})) + 4
	if oracle {
		n += 8 * 8 // at least 8 regions of one stamp each
	}
	return n
}

// WorkerBytes is the resident memory of one worker over a run: the
// touched part of its latency histograms (one per operation kind), its time
// series and its event list. It is a measured figure, not a sum of
// allocations: each histogram allocates about 280 KiB of counts but a run
// touches only the pages of the buckets it records into. Measured: a
// -threads 4096 mixed run peaked at about 2.4 GiB, 600 KiB per
// worker; fault-scale at 512 threads for 500ms took 52 KiB per worker.
func WorkerBytes() int64 { return 600 << 10 }

// MemoryNeed estimates the memory a run takes beyond the Go runtime's
// own: the model of a file of fileSize bytes in pages of pageSize, and
// workers workers (foreground and background). cmd bounds -file-size and
// -threads by it, so that a run the machine cannot hold is refused with
// the bound instead of dying with "runtime: out of memory".
func MemoryNeed(fileSize int64, pageSize, workers int, oracle bool) int64 {
	return fileSize/int64(pageSize)*PageBytes(oracle) + int64(workers)*WorkerBytes()
}
