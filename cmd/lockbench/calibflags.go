package main

import (
	"slices"

	"lockbench/hotpath"
	"lockbench/strategies"
)

// parseStrategies parses -strategy: "all" is the designs under study and
// the kernel; a list may also name the real filesystems' schemes
// (scheme-btrfs, scheme-ext4, scheme-xfs), which "all" leaves out.
func parseStrategies(s string) ([]string, error) {
	if s == "all" {
		return hotpath.StrategyNames(), nil
	}
	return parseList(s, slices.Concat(hotpath.StrategyNames(), strategies.SchemeNames()), "-strategy")
}
