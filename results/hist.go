package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// A histogram (OpStats.Hist) is held in one of two text forms:
//
//   - HDR's V2 compressed encoding in base64 (hdrhistogram-go's Encode):
//     what the measuring code produces and what schema 1-3 files hold;
//   - the compact form, "lbh1:" and base64 of the histogram's geometry and
//     counts, entropy-coded (below): what schema 4 files hold.
//
// Both hold the same counts exactly: DecodeHist reads either into the same
// histogram, and EncodeHist(DecodeHist(s)) re-encodes it in HDR's form with
// the same bytes. The compact form exists because base64 of zlib output
// does not compress: inside the file's gzip, HDR's form cost 5.1 of a
// study's 7.1 MB; the compact form codes each count against the size of
// the one before it, which is what the counts of a latency histogram have
// in common, and costs about two thirds of that.
//
// The compact payload (before base64): uvarints significant figures,
// lowest discernible value, highest trackable value, the number of
// counts up to the last non-zero one (n) and the total count; then, when
// n > 0, a range-coded (LZMA's binary range coder) sequence of items
// covering counts[0:n]: each item is a maximal run of zero counts (its
// length) or one non-zero count, told apart by one bit (none after a run,
// which a count always follows); a value v >= 1 is coded as its bit
// length in a six-bit tree, a count's under the context of the previous
// count's bit length, then its bits below the top one at even odds. The
// models start from a fixed prior (histPrior) and adapt as LZMA's do.
const histCompactPrefix = "lbh1:"

// HistCompact reports whether s is in the compact form.
func HistCompact(s string) bool { return strings.HasPrefix(s, histCompactPrefix) }

// DecodeHist returns the histogram s holds, in either form.
func DecodeHist(s string) (*hdrhistogram.Histogram, error) {
	if !HistCompact(s) {
		return hdrhistogram.Decode([]byte(s))
	}
	b, err := base64.StdEncoding.DecodeString(s[len(histCompactPrefix):])
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	snap, err := decodeCompact(b)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	return hdrhistogram.Import(snap), nil
}

// EncodeHist is h in HDR's V2 compressed encoding, base64: the form the
// measuring code stores.
func EncodeHist(h *hdrhistogram.Histogram) (string, error) {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	return string(b), err
}

// CompactHist is s in the compact form, or s itself when it is already
// compact, empty, or holds what the compact form does not (a conversion
// ratio other than 1): never a lossy result. It reads HDR's encoding
// itself (v2Items) and falls back to hdrhistogram's decoder for what that
// does not take.
func CompactHist(s string) string {
	if s == "" || HistCompact(s) {
		return s
	}
	inf := inflaters.Get().(*inflater)
	defer inflaters.Put(inf)
	g, items, err := v2Items(s, inf)
	if err != nil {
		return compactSlow(s)
	}
	b, err := encodeCompact(g, items)
	if err != nil {
		return compactSlow(s)
	}
	return histCompactPrefix + base64.StdEncoding.EncodeToString(b)
}

// compactSlow is CompactHist through hdrhistogram's decoder and the
// histogram's dense counts.
func compactSlow(s string) string {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return s
	}
	snap := h.Export()
	if r := snap.IntegerToDoubleConversionRatio; r != 0 && r != 1 {
		return s
	}
	g := histGeom{sig: snap.SignificantFigures, lo: snap.LowestTrackableValue, hi: snap.HighestTrackableValue}
	b, err := encodeCompact(g, denseItems(snap.Counts))
	if err != nil {
		return s
	}
	return histCompactPrefix + base64.StdEncoding.EncodeToString(b)
}

// histGeom is a histogram's geometry.
type histGeom struct{ sig, lo, hi int64 }

// countsLen is the length of g's counts array (0 for a geometry HDR does
// not take), computed once per geometry.
func (g histGeom) countsLen() int {
	if v, ok := countsLens.Load(g); ok {
		return v.(int)
	}
	n := 0
	if g.sig >= 1 && g.sig <= 5 && g.lo >= 1 && g.hi >= 2*g.lo && g.hi <= 1<<62 {
		n = len(hdrhistogram.New(g.lo, g.hi, int(g.sig)).Export().Counts)
	}
	countsLens.Store(g, n)
	return n
}

var countsLens sync.Map // histGeom -> int

// denseItems is counts as encodeCompact's items: a maximal run of zeros
// as minus its length, a non-zero count as itself, without the zeros
// after the last non-zero count.
func denseItems(counts []int64) []int64 {
	var items []int64
	for i := 0; i < len(counts); {
		if counts[i] != 0 {
			items = append(items, counts[i])
			i++
			continue
		}
		j := i
		for j < len(counts) && counts[j] == 0 {
			j++
		}
		if j < len(counts) {
			items = append(items, -int64(j-i))
		}
		i = j
	}
	return items
}

// v2Items reads HDR's V2 compressed encoding (hdrhistogram-go's Encode,
// base64) into its geometry and encodeCompact's items (in inf's buffer,
// valid until inf's next use), without the dense
// counts array: an error for anything but a plain V2 histogram of a
// geometry HDR takes (sig 1-5) and a conversion ratio of 1, which
// compactSlow then handles.
func v2Items(s string, inf *inflater) (histGeom, []int64, error) {
	var g histGeom
	d, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(d) < 8 {
		return g, nil, errors.New("not HDR's V2 encoding")
	}
	if int32(binary.BigEndian.Uint32(d[0:4]))&^0xf0 != hdrhistogram.V2CompressedEncodingCookieBase {
		return g, nil, errors.New("not HDR's V2 compressed encoding")
	}
	zl := int64(int32(binary.BigEndian.Uint32(d[4:8])))
	if zl < 0 || zl > int64(len(d)-8) {
		return g, nil, errors.New("bad compressed length")
	}
	u, err := inf.inflate(d[8 : 8+zl])
	if err != nil || len(u) < 40 {
		return g, nil, errors.New("bad compressed contents")
	}
	if int32(binary.BigEndian.Uint32(u[0:4]))&^0xf0 != hdrhistogram.V2EncodingCookieBase ||
		int64(int32(binary.BigEndian.Uint32(u[4:8]))) != int64(len(u)-40) {
		return g, nil, errors.New("bad V2 header")
	}
	g = histGeom{sig: int64(int32(binary.BigEndian.Uint32(u[12:16]))),
		lo: int64(binary.BigEndian.Uint64(u[16:24])), hi: int64(binary.BigEndian.Uint64(u[24:32]))}
	if r := math.Float64frombits(binary.BigEndian.Uint64(u[32:40])); r != 1 {
		return g, nil, errors.New("a conversion ratio")
	}
	size := g.countsLen()
	if size == 0 {
		return g, nil, errors.New("a geometry for the slow path")
	}
	items := inf.items[:0]
	defer func() { inf.items = items[:0] }()
	at := 0
	for p := u[40:]; len(p) > 0; {
		v, k := zigzagLEB128(p)
		if k == 0 {
			return g, nil, errors.New("truncated counts")
		}
		p = p[k:]
		switch {
		case v == math.MinInt64:
			return g, nil, errors.New("bad zero run")
		case v > 0:
			items = append(items, v)
			at++
		default: // a run of -v zeros; 0 is a run of one
			run := max(-v, 1)
			if n := len(items); n > 0 && items[n-1] < 0 {
				items[n-1] -= run
			} else {
				items = append(items, -run)
			}
			at += int(min(run, int64(size)+1))
		}
		if at > size {
			return g, nil, errors.New("counts past the geometry's")
		}
	}
	if n := len(items); n > 0 && items[n-1] < 0 {
		items = items[:n-1]
	}
	return g, items, nil
}

// inflater inflates zlib streams into a buffer it reuses: a study's
// thousands of histograms would otherwise make as many decompressors.
type inflater struct {
	src   bytes.Reader
	zr    io.ReadCloser
	out   bytes.Buffer
	items []int64
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// inflate returns the zlib stream z inflated (at most 64 MiB), valid
// until the next call.
func (f *inflater) inflate(z []byte) ([]byte, error) {
	f.src.Reset(z)
	var err error
	if f.zr == nil {
		f.zr, err = zlib.NewReader(&f.src)
	} else {
		err = f.zr.(zlib.Resetter).Reset(&f.src, nil)
	}
	if err != nil {
		return nil, err
	}
	f.out.Reset()
	if _, err := f.out.ReadFrom(io.LimitReader(f.zr, 64<<20)); err != nil {
		return nil, err
	}
	return f.out.Bytes(), nil
}

// zigzagLEB128 reads one of HDR's counts: ZigZag LEB128, the ninth byte
// whole. k is 0 when p ends first.
func zigzagLEB128(p []byte) (v int64, k int) {
	var u uint64
	for i := 0; i < 9; i++ {
		if i >= len(p) {
			return 0, 0
		}
		b := p[i]
		if i == 8 {
			u |= uint64(b) << 56
			k = 9
			break
		}
		u |= uint64(b&0x7f) << (7 * uint(i))
		if b&0x80 == 0 {
			k = i + 1
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), k
}

// The coder's models: a bit's probability of 0 in 1/2048ths, adapted by
// a 32nd of the distance after each bit (LZMA's).
const (
	probBits  = 11
	probOne   = 1 << probBits
	probShift = 5
	// lenCtx is the contexts of a bit length: the previous count's bit
	// length, 0 to 40 and more.
	lenCtx = 41
)

type histModel struct {
	kind   uint16             // the item after a count is a zero run
	runLen [64]uint16         // bit tree of a zero run's bit length (1-63)
	cntLen [lenCtx][64]uint16 // bit tree of a count's bit length, by the previous count's
}

// histPrior is the models' starting point, the same for every histogram:
// a count's bit length near the previous count's (its probability halving
// with each bit of distance), a zero run short, a zero run after a count
// one time in four. A histogram is too short for models that start at
// even odds to learn much.
var histPrior = func() *histModel {
	m := &histModel{kind: probOne / 4}
	var w [64]float64
	for l := 1; l < 64; l++ {
		w[l] = math.Exp2(-0.7 * float64(l-1))
	}
	treePrior(&m.runLen, &w)
	for c := range m.cntLen {
		centre := float64(c)
		if c == 0 {
			centre = 8 // no count yet: a few hundred
		}
		for l := 1; l < 64; l++ {
			w[l] = math.Exp2(-math.Abs(float64(l) - centre))
		}
		treePrior(&m.cntLen[c], &w)
	}
	return m
}()

// treePrior sets the six-bit tree t to code l with probability w[l]/sum.
func treePrior(t *[64]uint16, w *[64]float64) {
	for node := 1; node < 64; node++ {
		depth := bits.Len(uint(node)) - 1 // the bits of l above this node's
		span := 64 >> uint(depth)
		lo := (node - 1<<uint(depth)) * span
		var zero, all float64
		for l := lo; l < lo+span; l++ {
			all += w[l]
			if l < lo+span/2 {
				zero += w[l]
			}
		}
		p := probOne / 2.0
		if all > 0 {
			p = probOne * zero / all
		}
		t[node] = uint16(min(max(p, 31), probOne-31))
	}
}

// rcEncoder is LZMA's range encoder.
type rcEncoder struct {
	low       uint64
	rng       uint32
	cache     byte
	cacheSize int64
	out       []byte
}

func newEncoder(out []byte) *rcEncoder {
	return &rcEncoder{rng: 0xFFFFFFFF, cacheSize: 1, out: out}
}

func (e *rcEncoder) shiftLow() {
	if uint32(e.low) < 0xFF000000 || e.low>>32 != 0 {
		carry := byte(e.low >> 32)
		temp := e.cache
		for {
			e.out = append(e.out, temp+carry)
			temp = 0xFF
			e.cacheSize--
			if e.cacheSize == 0 {
				break
			}
		}
		e.cache = byte(e.low >> 24)
	}
	e.cacheSize++
	e.low = (e.low & 0x00FFFFFF) << 8
}

func (e *rcEncoder) bit(p *uint16, b uint32) {
	bound := (e.rng >> probBits) * uint32(*p)
	if b == 0 {
		e.rng = bound
		*p += (probOne - *p) >> probShift
	} else {
		e.low += uint64(bound)
		e.rng -= bound
		*p -= *p >> probShift
	}
	for e.rng < 1<<24 {
		e.rng <<= 8
		e.shiftLow()
	}
}

func (e *rcEncoder) direct(v uint64, n int) {
	for i := n - 1; i >= 0; i-- {
		e.rng >>= 1
		if v>>uint(i)&1 != 0 {
			e.low += uint64(e.rng)
		}
		for e.rng < 1<<24 {
			e.rng <<= 8
			e.shiftLow()
		}
	}
}

// tree codes x in [0, 64) with the six-bit tree t, top bit first.
func (e *rcEncoder) tree(t *[64]uint16, x int) {
	m := 1
	for i := 5; i >= 0; i-- {
		b := uint32(x>>uint(i)) & 1
		e.bit(&t[m], b)
		m = m<<1 | int(b)
	}
}

// value codes v >= 1: its bit length in t, then the bits below the top.
func (e *rcEncoder) value(t *[64]uint16, v uint64) {
	n := bits.Len64(v)
	e.tree(t, n)
	e.direct(v, n-1)
}

func (e *rcEncoder) finish() []byte {
	for range 5 {
		e.shiftLow()
	}
	return e.out
}

type rcDecoder struct {
	in   []byte
	pos  int
	rng  uint32
	code uint32
	// over counts the bytes read past the end, which a well-formed stream
	// never needs beyond the coder's own flush.
	over int
}

func newDecoder(in []byte) (*rcDecoder, error) {
	if len(in) < 5 || in[0] != 0 {
		return nil, errors.New("range-coded counts too short or corrupt")
	}
	d := &rcDecoder{in: in, pos: 5, rng: 0xFFFFFFFF}
	d.code = binary.BigEndian.Uint32(in[1:5])
	return d, nil
}

func (d *rcDecoder) next() byte {
	if d.pos < len(d.in) {
		d.pos++
		return d.in[d.pos-1]
	}
	d.over++
	return 0
}

func (d *rcDecoder) bit(p *uint16) uint32 {
	bound := (d.rng >> probBits) * uint32(*p)
	var b uint32
	if d.code < bound {
		d.rng = bound
		*p += (probOne - *p) >> probShift
	} else {
		d.code -= bound
		d.rng -= bound
		*p -= *p >> probShift
		b = 1
	}
	for d.rng < 1<<24 {
		d.rng <<= 8
		d.code = d.code<<8 | uint32(d.next())
	}
	return b
}

func (d *rcDecoder) direct(n int) uint64 {
	var v uint64
	for range n {
		d.rng >>= 1
		var b uint64
		if d.code >= d.rng {
			d.code -= d.rng
			b = 1
		}
		v = v<<1 | b
		for d.rng < 1<<24 {
			d.rng <<= 8
			d.code = d.code<<8 | uint32(d.next())
		}
	}
	return v
}

func (d *rcDecoder) tree(t *[64]uint16) int {
	m := 1
	for range 6 {
		m = m<<1 | int(d.bit(&t[m]))
	}
	return m - 64
}

// value decodes what rcEncoder.value coded; an error for a bit length of
// 0 (no value is coded so).
func (d *rcDecoder) value(t *[64]uint16) (uint64, error) {
	n := d.tree(t)
	if n == 0 {
		return 0, errors.New("corrupt counts: a value of bit length 0")
	}
	return 1<<uint(n-1) | d.direct(n-1), nil
}

func lenContext(c uint64) int { return min(bits.Len64(c), lenCtx-1) }

// encodeCompact is the compact payload (HistCompact's comment) of a
// histogram of geometry g whose counts are items (denseItems' form).
func encodeCompact(g histGeom, items []int64) ([]byte, error) {
	var n, total uint64
	for i, v := range items {
		if v < 0 {
			if v == math.MinInt64 || i+1 == len(items) || i > 0 && items[i-1] < 0 {
				return nil, errors.New("a zero run not between counts")
			}
			n += uint64(-v)
			continue
		}
		if v == 0 {
			return nil, errors.New("a zero count item")
		}
		if total += uint64(v); total > math.MaxInt64 {
			return nil, errors.New("counts sum past MaxInt64")
		}
		n++
	}
	if g.sig < 0 || g.lo < 0 || g.hi < 0 {
		return nil, errors.New("negative geometry")
	}
	out := make([]byte, 0, 64+len(items))
	for _, v := range []uint64{uint64(g.sig), uint64(g.lo), uint64(g.hi), n, total} {
		out = binary.AppendUvarint(out, v)
	}
	if n == 0 {
		return out, nil
	}
	m := *histPrior
	e := newEncoder(out)
	afterRun, prev := false, uint64(0)
	for _, v := range items {
		if v < 0 {
			e.bit(&m.kind, 1)
			e.value(&m.runLen, uint64(-v))
			afterRun = true
			continue
		}
		c := uint64(v)
		if !afterRun { // a run is followed by a count
			e.bit(&m.kind, 0)
		}
		e.value(&m.cntLen[lenContext(prev)], c)
		afterRun, prev = false, c
	}
	return e.finish(), nil
}

// maxCompactCounts bounds the counts a compact histogram may claim: HDR's
// widest geometry (1 to MaxInt64 at 5 significant figures) has fewer.
const maxCompactCounts = 1 << 24

// decodeCompact reads encodeCompact's payload, checking it: the geometry
// must be one HDR accepts, the items must cover exactly the counts
// announced and sum to the total, and the stream must end where it does.
func decodeCompact(b []byte) (*hdrhistogram.Snapshot, error) {
	var hd [5]uint64
	for i := range hd {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errors.New("truncated header")
		}
		hd[i], b = v, b[k:]
	}
	sig, lo, hi, n, total := hd[0], hd[1], hd[2], hd[3], hd[4]
	if sig > 5 || lo < 1 || hi > math.MaxInt64 || hi < 2*lo || total > math.MaxInt64 {
		return nil, fmt.Errorf("invalid geometry: lowest %d, highest %d, %d significant figures", lo, hi, sig)
	}
	if n > maxCompactCounts {
		return nil, fmt.Errorf("%d counts, more than any histogram has", n)
	}
	s := &hdrhistogram.Snapshot{LowestTrackableValue: int64(lo), HighestTrackableValue: int64(hi), SignificantFigures: int64(sig)}
	if n == 0 {
		if total != 0 || len(b) != 0 {
			return nil, errors.New("corrupt empty histogram")
		}
		return s, s.Validate()
	}
	d, err := newDecoder(b)
	if err != nil {
		return nil, err
	}
	counts := make([]int64, n)
	m := *histPrior
	afterRun, prev, sum := false, uint64(0), uint64(0)
	for i := uint64(0); i < n; {
		if !afterRun && d.bit(&m.kind) == 1 {
			run, err := d.value(&m.runLen)
			if err != nil {
				return nil, err
			}
			if run > n-i {
				return nil, errors.New("corrupt counts: a zero run past the end")
			}
			i, afterRun = i+run, true
			continue
		}
		c, err := d.value(&m.cntLen[lenContext(prev)])
		if err != nil {
			return nil, err
		}
		if sum += c; sum > total || c > math.MaxInt64 {
			return nil, errors.New("corrupt counts: more than the total")
		}
		counts[i] = int64(c)
		i, afterRun, prev = i+1, false, c
	}
	if sum != total || counts[n-1] == 0 {
		return nil, errors.New("corrupt counts: they do not add up to the total")
	}
	if d.over != 0 || d.pos != len(d.in) {
		return nil, errors.New("corrupt counts: the stream's length does not match")
	}
	s.Counts = counts
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
