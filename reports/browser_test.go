//go:build unix

package reports

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lockbench/results"
)

// TestBrowserReport opens, in headless Chromium, the report of the default
// study as `lockbench` writes it (index.html with its PNG charts beside
// it, from the synthetic study) and the self-contained page of the golden
// fixture, and checks what a reader gets: every image loaded, no console
// message, the DOM the browser built (every strategy, a well-formed table
// per scenario group, the verify grid, no element that escaped text would
// have made), no request from the self-contained page, and a screenshot
// that is not blank and shows the charts' colours.
//
// It skips when no browser is found. CI installs Debian's chromium, so the
// test runs in a plain `go test ./...` there; it takes a few seconds.
//
// Note: a DevTools-protocol client (chromedp) would allow finer checks, but
// adds a dependency for a single test; the command line's --dump-dom,
// --screenshot, --enable-logging and --log-net-log, and a harness page
// that reads the report's images from an iframe, are enough here.
func TestBrowserReport(t *testing.T) {
	bin := chromiumOrSkip(t)
	dir := t.TempDir()
	study := studyFixture()
	if err := WriteReportDir(dir, []*results.File{study}); err != nil {
		t.Fatalf("WriteReportDir = %v", err)
	}
	want, err := Charts(study)
	if err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, "index.html")
	t.Run("images", func(t *testing.T) {
		t.Parallel()
		harness := filepath.Join(t.TempDir(), "harness.html")
		if err := os.WriteFile(harness, []byte(strings.ReplaceAll(harnessPage, "REPORT", (&url.URL{Scheme: "file", Path: index}).String())), 0o644); err != nil {
			t.Fatal(err)
		}
		out, logs := runChromium(t, bin, "--allow-file-access-from-files", "--enable-logging=stderr", "--v=0",
			"--virtual-time-budget=10000", "--dump-dom", (&url.URL{Scheme: "file", Path: harness}).String())
		m := regexp.MustCompile(`<pre id="result">([^<]*)</pre>`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("the harness wrote no result; DOM (end): %s", tail(out, 500))
		}
		var res struct {
			Images int      `json:"images"`
			Broken []string `json:"broken"`
		}
		if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &res); err != nil {
			t.Fatalf("harness result %q: %v", m[1], err)
		}
		if res.Images != len(want) || len(res.Broken) > 0 {
			t.Errorf("report shows %d images, broken %q; want the %d charts, all loaded", res.Images, res.Broken, len(want))
		}
		for _, line := range strings.Split(string(logs), "\n") {
			if strings.Contains(line, ":CONSOLE") && strings.Contains(line, "index.html") {
				t.Errorf("console message from the report: %s", line)
			}
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		t.Parallel()
		shot := filepath.Join(t.TempDir(), "shot.png")
		runChromium(t, bin, "--screenshot="+shot, "--window-size=1400,4000", (&url.URL{Scheme: "file", Path: index}).String())
		checkScreenshot(t, shot, 1400)
		keepScreenshot(t, shot, index)
	})
	f := fixture()
	fixtureCharts, err := Charts(f)
	if err != nil {
		t.Fatalf("Charts(fixture) = %v", err)
	}
	report := filepath.Join(t.TempDir(), "report.html")
	writeReportFile(t, report, f)
	t.Run("self-contained dom", func(t *testing.T) {
		t.Parallel()
		netlog := filepath.Join(t.TempDir(), "netlog.json")
		dom, _ := runChromium(t, bin, "--log-net-log="+netlog, "--dump-dom", (&url.URL{Scheme: "file", Path: report}).String())
		checkDOM(t, string(dom), f, fixtureCharts)
		checkNoPageRequests(t, netlog)
	})
}

// harnessPage loads the report in an iframe and, once it has loaded,
// writes how many images it has and which did not load.
const harnessPage = `<!DOCTYPE html><html><body>
<iframe id="r" src="REPORT" style="width:1400px;height:900px"></iframe>
<script>
document.getElementById("r").addEventListener("load", function () {
  var broken = [], n = 0;
  for (const img of this.contentDocument.images) {
    n++;
    if (!img.complete || img.naturalWidth === 0) broken.push(img.getAttribute("src"));
  }
  var out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify({images: n, broken: broken});
  document.body.appendChild(out);
});
</script></body></html>`

// chromiumOrSkip returns the browser to run: $LOCKBENCH_CHROMIUM, else
// chromium or chromium-browser on PATH; it skips the test when there is
// none. A LOCKBENCH_CHROMIUM that does not resolve fails the test instead:
// whoever set it expects the browser checks to run.
func chromiumOrSkip(t *testing.T) string {
	t.Helper()
	if env := os.Getenv("LOCKBENCH_CHROMIUM"); env != "" {
		path, err := exec.LookPath(env)
		if err != nil {
			t.Fatalf("LOCKBENCH_CHROMIUM=%q: %v", env, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("browser checks of the HTML report skipped: no Chromium found " +
		"(set LOCKBENCH_CHROMIUM, or put chromium or chromium-browser on PATH; " +
		"on Debian: apt-get install -y chromium)")
	return ""
}

// writeReportFile renders files with WriteHTML, the production path with
// real charts, into path.
func writeReportFile(t *testing.T, path string, files ...*results.File) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = WriteHTML(out, files)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("WriteHTML(%s) = %v", path, err)
	}
}

const browserTimeout = 60 * time.Second

// runChromium runs the browser headless with a new empty profile plus args
// and returns what it wrote to standard output. It runs as root in CI
// containers, hence --no-sandbox; background services are turned off and
// every host name resolves to nothing, so the run is hermetic and fast.
//
// The browser and its helpers (zygotes, GPU and renderer processes) run in
// a process group of their own. On timeout the whole group is killed, and
// after every run the group is killed again in case a helper outlived the
// browser: no Chromium is left running whatever happens. (A group id
// cannot be reused while any member lives, and pids are handed out in
// sequence, so the final kill cannot reach an unrelated process.) The
// crashpad handler detaches into a session of its own; it exits when its
// browser's socket closes.
//
// Output goes to files, not pipes, so a helper that keeps a descriptor
// open cannot make Wait hang.
func runChromium(t *testing.T, bin string, args ...string) (stdoutData, stderrData []byte) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"profile", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	flags := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
	}
	cmd := exec.CommandContext(ctx, bin, append(flags, args...)...)
	// Caches and crash reports stay in the temporary directory, not in the
	// CI user's home.
	home := filepath.Join(dir, "home")
	cmd.Env = append(os.Environ(), "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // ESRCH when all are gone
	}
	t.Logf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if runErr != nil {
		log, _ := os.ReadFile(stderr.Name())
		if ctx.Err() != nil {
			runErr = fmt.Errorf("no exit within %v, process group killed: %w", browserTimeout, runErr)
		}
		t.Fatalf("%s %s: %v\nstderr (end):\n%s", bin, strings.Join(args, " "), runErr, tail(log, 2000))
	}
	out, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	logs, err := os.ReadFile(stderr.Name())
	if err != nil {
		t.Fatal(err)
	}
	return out, logs
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

var (
	// tagRE matches a start tag as Chromium serialises a DOM: attribute
	// values always in double quotes, with & " < > escaped.
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:="[^"]*")?)*)\s*/?>`)
	attrRE = regexp.MustCompile(`([^\s"'>/=]+)(?:="([^"]*)")?`)
	// tableRE and rowRE and cellRE split a serialised table; the report
	// nests no tables.
	tableRE = regexp.MustCompile(`(?s)<table[^>]*>(.*?)</table>`)
	rowRE   = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`(?s)<(td|th)((?:\s+[^\s"'>/=]+(?:="[^"]*")?)*)\s*>(.*?)</(?:td|th)>`)
	markup  = regexp.MustCompile(`<[^>]*>`)
)

// domTag is one start tag of the dumped DOM.
type domTag struct {
	name  string
	attrs map[string]string // unescaped values
}

func domTags(dom string) []domTag {
	var tags []domTag
	for _, m := range tagRE.FindAllStringSubmatch(dom, -1) {
		tags = append(tags, domTag{strings.ToLower(m[1]), parseAttrs(m[2])})
	}
	return tags
}

func parseAttrs(s string) map[string]string {
	attrs := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		attrs[strings.ToLower(a[1])] = html.UnescapeString(a[2])
	}
	return attrs
}

// domCell is one td or th of a serialised table.
type domCell struct {
	tag     string
	text    string // without markup, unescaped, spaces collapsed
	attrs   map[string]string
	colspan int
	rowspan int
}

// domTable splits a serialised table into rows of cells.
func domTable(table string) [][]domCell {
	var rows [][]domCell
	for _, r := range rowRE.FindAllStringSubmatch(table, -1) {
		var row []domCell
		for _, c := range cellRE.FindAllStringSubmatch(r[1], -1) {
			attrs := parseAttrs(c[2])
			cell := domCell{tag: c[1], attrs: attrs, colspan: 1, rowspan: 1,
				text: strings.Join(strings.Fields(html.UnescapeString(markup.ReplaceAllString(c[3], " "))), " ")}
			if n, err := strconv.Atoi(attrs["colspan"]); err == nil {
				cell.colspan = n
			}
			if n, err := strconv.Atoi(attrs["rowspan"]); err == nil {
				cell.rowspan = n
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// rowWidths is the number of grid columns each row covers, counting
// colspans and the cells that rowspans carry down from rows above.
func rowWidths(rows [][]domCell) []int {
	var carried []int // rows still covered by a rowspan, per extra cell
	widths := make([]int, len(rows))
	for i, row := range rows {
		w := len(carried)
		var next []int
		for _, left := range carried {
			if left > 1 {
				next = append(next, left-1)
			}
		}
		for _, c := range row {
			w += c.colspan
			for range c.colspan {
				if c.rowspan > 1 {
					next = append(next, c.rowspan-1)
				}
			}
		}
		carried = next
		widths[i] = w
	}
	return widths
}

// sectionTable returns the first table after the h2 heading that reads
// exactly heading, or fails.
func sectionTable(t *testing.T, dom, heading string) string {
	t.Helper()
	h := "<h2>" + html.EscapeString(heading) + "</h2>"
	_, after, ok := strings.Cut(dom, h)
	if !ok {
		t.Fatalf("DOM has no heading %s", h)
	}
	if next := strings.Index(after, "<h2>"); next >= 0 {
		after = after[:next]
	}
	m := tableRE.FindString(after)
	if m == "" {
		t.Fatalf("section %q has no table", heading)
	}
	return m
}

// detailsTable returns the table inside the details element whose summary
// reads exactly summary, or fails.
func detailsTable(t *testing.T, dom, summary string) string {
	t.Helper()
	h := "<summary>" + html.EscapeString(summary) + "</summary>"
	_, after, ok := strings.Cut(dom, h)
	if !ok {
		t.Fatalf("DOM has no %s", h)
	}
	after, _, _ = strings.Cut(after, "</details>")
	m := tableRE.FindString(after)
	if m == "" {
		t.Fatalf("details %q has no table", summary)
	}
	return m
}

// reportElements are the only elements the report's template writes. An
// element outside the list in the browser's DOM means text became markup
// (the verify detail "<punch> raced a fault" would make a <punch>) or the
// page pulls in something.
var reportElements = []string{
	"html", "head", "meta", "title", "style", "body",
	"h1", "h2", "h3", "p", "ul", "li", "div", "span", "b", "br", "code", "sup",
	"table", "tbody", "tr", "th", "td", "img", "details", "summary",
}

// urlAttrs are attributes that make a browser fetch or navigate.
var urlAttrs = []string{"src", "srcset", "href", "poster", "data", "action", "formaction", "background", "cite", "ping", "manifest", "xlink:href"}

func checkDOM(t *testing.T, dom string, f *results.File, want []Chart) {
	if !strings.HasSuffix(strings.TrimSpace(dom), "</html>") {
		t.Fatalf("dumped DOM is not a whole page (%d bytes): %.200q", len(dom), dom)
	}
	tags := domTags(dom)

	// Nothing but the template's elements, and no way to fetch.
	for _, tag := range tags {
		if !slices.Contains(reportElements, tag.name) {
			t.Errorf("DOM has a <%s> element; the report writes only %v", tag.name, reportElements)
		}
		for _, a := range urlAttrs {
			if v, ok := tag.attrs[a]; ok && !(tag.name == "img" && a == "src" && strings.HasPrefix(v, "data:")) {
				t.Errorf("<%s %s=%.60q>: a URL that is not an embedded image", tag.name, a, v)
			}
		}
		if _, ok := tag.attrs["style"]; ok {
			t.Errorf("<%s> has an inline style attribute; styles belong in the one <style> element", tag.name)
		}
	}
	for _, style := range regexp.MustCompile(`(?s)<style[^>]*>(.*?)</style>`).FindAllStringSubmatch(dom, -1) {
		for _, banned := range []string{"url(", "@import", "image-set("} {
			if strings.Contains(style[1], banned) {
				t.Errorf("<style> contains %q; the page must fetch nothing", banned)
			}
		}
	}

	// A well-formed table per scenario group, with every strategy and
	// operation of the group, in the order the fixture has them.
	sums := Summarize(f)
	for _, g := range groupCells(sums) {
		rows := domTable(detailsTable(t, dom, "Table: "+g.label))
		widths := rowWidths(rows)
		for i, w := range widths {
			if w != widths[0] {
				t.Errorf("group %q: table row %d covers %d columns, row 0 covers %d", g.label, i, w, widths[0])
			}
		}
		if wantWidth := 3 + 5; len(widths) > 0 && widths[0] != wantWidth { // strategy, op, role + 5 per file
			t.Errorf("group %q: table is %d columns wide; want %d", g.label, widths[0], wantWidth)
		}
		var got []string // strategy/op per data row, the strategy carried down
		strategy := ""
		for _, row := range rows[min(2, len(rows)):] {
			if len(row) < 3 {
				t.Errorf("group %q: data row with %d cells", g.label, len(row))
				continue
			}
			if row[0].text != "" {
				strategy = row[0].text
			}
			got = append(got, strategy+"/"+row[1].text)
		}
		var wantRows []string
		for _, s := range g.cells {
			for _, o := range s.Ops {
				wantRows = append(wantRows, strategyLabel(s.Config)+"/"+o.Op)
			}
		}
		if !slices.Equal(got, wantRows) {
			t.Errorf("group %q: table rows (strategy/op) = %q; want %q", g.label, got, wantRows)
		}
	}

	// The verify matrix: a row per strategy, a column per scenario, each
	// cell's verdict, and the mismatch marked.
	if f.Verify != nil {
		heading := "Correctness: " + f.Machine.Hostname // a lone file is labelled by its host
		if f.Verify.Budget != "" {
			heading += " (race oracle, " + f.Verify.Budget + " per cell)"
		}
		rows := domTable(sectionTable(t, dom, heading))
		if len(rows) == 0 {
			t.Fatalf("verify table is empty")
		}
		col := map[string]int{}
		for i, c := range rows[0][1:] {
			col[c.text] = i + 1
		}
		row := map[string][]domCell{}
		for _, r := range rows[1:] {
			row[r[0].text] = r
		}
		for _, v := range f.Verify.Cells {
			r, ok := row[v.Strategy]
			c, ok2 := col[v.Scenario]
			if !ok || !ok2 || c >= len(r) {
				t.Errorf("verify table has no cell for %s x %s", v.Strategy, v.Scenario)
				continue
			}
			cell := r[c]
			if !strings.HasPrefix(cell.text, string(v.Verdict)+" "+v.Race) {
				t.Errorf("verify cell %s x %s reads %q; want the verdict %q and race %s first", v.Strategy, v.Scenario, cell.text, v.Verdict, v.Race)
			}
			mismatch := strings.Contains(" "+cell.attrs["class"]+" ", " mismatch ")
			if mismatch == v.Matches || strings.Contains(cell.text, "MISMATCH") == v.Matches {
				t.Errorf("verify cell %s x %s: class %q, text %q; mismatch marked = %v, want %v", v.Strategy, v.Scenario, cell.attrs["class"], cell.text, mismatch, !v.Matches)
			}
			if v.Detail != "" && !strings.Contains(cell.attrs["title"], v.Detail) {
				t.Errorf("verify cell %s x %s: title %q lacks the detail %q as text", v.Strategy, v.Scenario, cell.attrs["title"], v.Detail)
			}
		}
	}

	// Every image is an embedded PNG, and the images are exactly the charts
	// Charts renders for the file, each under its title.
	byAlt := map[string][]byte{}
	for _, tag := range tags {
		if tag.name != "img" {
			continue
		}
		src := tag.attrs["src"]
		data, ok := strings.CutPrefix(src, "data:image/png;base64,")
		if !ok {
			t.Errorf("<img alt=%q> src %.40q is not a data:image/png;base64 URI", tag.attrs["alt"], src)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Errorf("<img alt=%q>: %v", tag.attrs["alt"], err)
			continue
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(raw))
		if err != nil || cfg.Width == 0 || cfg.Height == 0 {
			t.Errorf("<img alt=%q>: not a PNG with pixels (%dx%d, %v)", tag.attrs["alt"], cfg.Width, cfg.Height, err)
		}
		byAlt[tag.attrs["alt"]] = raw
	}
	if len(byAlt) != len(want) {
		t.Errorf("DOM has %d distinct images; want the %d charts", len(byAlt), len(want))
	}
	for _, c := range want {
		alt := f.Machine.Hostname + ": " + c.Title
		raw, ok := byAlt[alt]
		switch {
		case !ok:
			t.Errorf("DOM has no image with alt %q", alt)
		case !bytes.Equal(raw, c.PNG):
			t.Errorf("image %q differs from Charts' %s", alt, c.Name)
		}
	}
}

// checkNoPageRequests reads the browser's network log and fails on any
// request the page started. The page is a file: URL, so its requests carry
// the opaque origin "null" (or a file: origin); the browser's own service
// requests carry "not an origin" and are ignored (they go nowhere: every
// host resolves to nothing). Loads of other file: URLs bypass the network
// log; the DOM check rules those out.
func checkNoPageRequests(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("network log: %v", err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL       string `json:"url"`
				Initiator string `json:"initiator"`
			} `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &log); err != nil {
		t.Fatalf("network log %s: %v", path, err)
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatalf("network log has no URL_REQUEST_START_JOB event type; its format changed")
	}
	for _, e := range log.Events {
		if e.Type != start || e.Params.URL == "" {
			continue
		}
		if i := e.Params.Initiator; i == "null" || strings.HasPrefix(i, "file:") {
			t.Errorf("the page requested %s; want a self-contained page", e.Params.URL)
		}
	}
}

func checkScreenshot(t *testing.T, path string, width int) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	t.Logf("screenshot %dx%d, %d bytes", b.Dx(), b.Dy(), len(raw))
	if b.Dx() != width {
		t.Errorf("screenshot is %d pixels wide; want %d", b.Dx(), width)
	}

	// The background is the commonest colour; a rendered page differs from
	// it in a good share of pixels, and the charts bring the second
	// strategy's colour (rwsem's bars; the time series draw operations in
	// colours of their own), which no text or table style of the page uses.
	counts := map[color.NRGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)]++
		}
	}
	var bg color.NRGBA
	for c, n := range counts {
		if n > counts[bg] {
			bg = c
		}
	}
	total := b.Dx() * b.Dy()
	differing, chart := 0, 0
	for c, n := range counts {
		if colorDistance(c, bg) > 16 {
			differing += n
		}
		if colorDistance(c, strategyColors["rangelock"]) <= 24 {
			chart += n
		}
	}
	diffShare, chartShare := float64(differing)/float64(total), float64(chart)/float64(total)
	t.Logf("background %v; %.1f%% of pixels differ from it, %.2f%% are in the chart colour %v", bg, 100*diffShare, 100*chartShare, strategyColors["rangelock"])
	if diffShare < 0.05 {
		t.Errorf("only %.1f%% of the screenshot differs from the background %v; want ≥5%% (a blank page?)", 100*diffShare, bg)
	}
	// 0.25%: the findings tables (one row per measure and comparison)
	// push the charts down, and the p99 bars are horizontal and thin; a
	// page without its charts has none of the colour.
	if chartShare < 0.0025 {
		t.Errorf("only %.2f%% of the screenshot is in the chart colour %v; want ≥0.25%% (charts not shown?)", 100*chartShare, strategyColors["rangelock"])
	}
}

// keepScreenshot copies the screenshot and the page it shows into
// $LOCKBENCH_SCREENSHOT_DIR when that is set, for a person to look at (the
// checks above catch a blank page, not a cramped legend or a wrapped
// table).
func keepScreenshot(t *testing.T, shot, page string) {
	dir := os.Getenv("LOCKBENCH_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	for _, p := range []string{shot, page} {
		raw, err := os.ReadFile(p)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(p)), raw, 0o644)
		}
		if err != nil {
			t.Errorf("LOCKBENCH_SCREENSHOT_DIR: %v", err)
		}
	}
	t.Logf("screenshot and page kept in %s", dir)
}

// colorDistance is the largest difference of a colour channel, of 255.
func colorDistance(a, b color.NRGBA) int {
	d := 0
	for _, p := range [][2]uint8{{a.R, b.R}, {a.G, b.G}, {a.B, b.B}} {
		d = max(d, abs(int(p[0])-int(p[1])))
	}
	return d
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
