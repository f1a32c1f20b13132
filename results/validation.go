package results

// Validation is `lockbench validate`'s verdict on one target: the
// calibrated model under the target filesystem's own scheme held against
// the real kernel, measure by measure.
type Validation struct {
	Target string `json:"target"`
	FS     string `json:"fs"`
	// Scheme is the model strategy that ran (scheme-btrfs, ...); Lock the
	// lock whose waits by faulters are compared (MK for btrfs, IL else).
	Scheme string          `json:"scheme"`
	Lock   string          `json:"lock"`
	Rows   []ValidationRow `json:"rows"`
	// WorstRatio is the largest max(ratio, 1/ratio) over the rows; Within
	// says every row is within the limit (2x).
	WorstRatio float64 `json:"worst_ratio"`
	Within     bool    `json:"within"`
	// Counterfactuals are the rejected designs' costs on this target.
	Counterfactuals []Counterfactual `json:"counterfactuals,omitempty"`
}

// ValidationRow is one measure: its per-repetition median for the model and
// the kernel, in Unit, and model/kernel with its confidence interval
// (Hodges-Lehmann over the repetitions' pairwise ratios) and the
// Mann-Whitney p of the difference.
type ValidationRow struct {
	Measure  string  `json:"measure"`
	Scenario string  `json:"scenario"`
	Unit     string  `json:"unit"` // "ns" or "waits/op"
	Model    float64 `json:"model"`
	Kernel   float64 `json:"kernel"`
	// Ratio is model/kernel; RatioLo and RatioHi its interval at Level.
	Ratio   float64 `json:"ratio"`
	RatioLo float64 `json:"ratio_lo"`
	RatioHi float64 `json:"ratio_hi"`
	Level   float64 `json:"level"`
	P       float64 `json:"p"`
	// Within is |log2(Ratio)| <= 1; Note says why a row has no ratio.
	Within bool   `json:"within"`
	Note   string `json:"note,omitempty"`
}

// Counterfactual is a rejected design's cost on a validated target, in
// the calibrated model's time: Design against Chosen (both calibrated on
// Target), one measure.
type Counterfactual struct {
	Target   string  `json:"target"`
	Scenario string  `json:"scenario"`
	Design   string  `json:"design"`
	Chosen   string  `json:"chosen"`
	Measure  string  `json:"measure"`
	Design50 float64 `json:"design_ns"` // median over repetitions
	Chosen50 float64 `json:"chosen_ns"`
	Ratio    float64 `json:"ratio"` // design/chosen, Hodges-Lehmann
	RatioLo  float64 `json:"ratio_lo"`
	RatioHi  float64 `json:"ratio_hi"`
	Level    float64 `json:"level"`
	P        float64 `json:"p"`
	// Validated says how far the model was from the kernel on Target:
	// "validated within 1.8x" or "NOT validated (worst 3.1x)".
	Validated string `json:"validated"`
	// Question names the rejected design ("R1: ..."), and Text states the
	// finding in the findings' words with Validated beside it; both empty
	// for the btrfs question's lines of older files.
	Question string `json:"question,omitempty"`
	Text     string `json:"text,omitempty"`
}
