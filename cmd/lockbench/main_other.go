//go:build !linux

package main

import "os"

// Off Linux, lockbench is built report-only (reportonly.go).
func main() {
	os.Exit(exitCode(runReportOnly(os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}
