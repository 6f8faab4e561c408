// Package chart draws the patient portal's result charts as inline SVG for
// server-rendered pages: a reference-range bar for one result ([RangeBar])
// and a trend of the same test over time ([TrendChart]).
//
// # Safety
//
// Both functions return [template.HTML] that is safe to put in a page as
// is. Every string the caller supplies (titles, labels, units, what the
// date and number formatters return) is stripped of characters XML does not
// allow and escaped with [template.HTMLEscapeString]; every number is
// written with strconv, and numbers that are not finite never reach the
// markup. The output is a well-formed XML document with one svg element.
//
// # Content-Security-Policy
//
// The markup has no style attribute, no style element and no script, so it
// works under "style-src 'self'". Every shape and text carries SVG
// presentation attributes (fill, stroke, font-size …) as defaults, so the
// chart reads without any style sheet; each also carries class names so
// the page's style sheet can restyle it (a CSS rule wins over a
// presentation attribute), for example in a high-contrast theme.
//
// # Accessibility
//
// The svg element has role="img" and aria-labelledby naming its title
// element (short) and, when there is one, its desc element (the full text
// alternative). The ids of both begin with the caller's id prefix, which
// must be unique on the page. Meaning never rests on colour alone: the
// value marker has its own shape and a text label, zones are labelled with
// the caller's (localised) words, off-scale values are drawn as a double
// chevron, and flagged trend points are diamonds where the others are
// circles. Text is #1d2125 (ink) or #4a5560 (muted), both above 4.5:1 on
// white and on the zone tints. Charts scale with their container (a
// viewBox, width="100%") and use text of 13 user units or more in a viewBox
// 320 units wide, so that they read on a 320 px phone.
//
// # Classes
//
// On the svg element: "chart" plus "chart-range" or "chart-trend".
//
// Range bar:
//   - rb-zone with one of rb-low, rb-normal, rb-high: the zones of the bar
//   - rb-critical: the part of a zone beyond a critical limit
//   - rb-critical-limit: the dashed line at a critical limit
//   - rb-bar: the bar's outline
//   - rb-limit: the line and tick at a reference limit
//   - rb-limit-text: the numbers of the limits under the bar
//   - rb-zone-label: the zone names (inside the bar, or under it when
//     one does not fit)
//   - rb-marker: the value marker (a triangle pointing at the value)
//   - rb-offscale: added to rb-marker when the value is beyond the end
//     of the bar and the marker is a double chevron at that end
//   - rb-value: the value label above the marker
//
// Trend chart:
//   - tc-unit: the unit above the y axis
//   - tc-grid: the horizontal grid lines at the y ticks
//   - tc-tick-label: the y tick numbers
//   - tc-band: the shaded band of the usual range
//   - tc-axis: the x axis line and its ticks
//   - tc-date-label: the dates under the x axis
//   - tc-line: the line through the results
//   - tc-point: a result's mark, a circle (only flagged results have a
//     mark when the points stand too close for one each)
//   - tc-flagged: with tc-point, a flagged result's mark, a diamond
//
// Neither chart replaces the numbers: pages should also show the results
// as text (the trend's points as a list or table).
package chart

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The default colours. Text colours meet 4.5:1 on white and on every
// fill they are drawn on; graphics that carry meaning meet 3:1.
const (
	colInk      = "#1d2125" // main text, value marker
	colMuted    = "#4a5560" // secondary text, outlines, limit lines, axes
	colWhite    = "#ffffff"
	colNormal   = "#cfe9d6" // the usual-range zone and band
	colOut      = "#fbdfc2" // the low and high zones
	colCritical = "#f5b5ae" // beyond a critical limit
	colGrid     = "#d6dbe0"
	colLine     = "#1f5fa8" // the trend line and its points
	colFlagged  = "#b3261e" // a flagged trend point
)

// Sizes, in user units of a viewBox 320 wide.
const (
	viewWidth = 320.0
	fontSmall = 13.0 // labels, limits, ticks
	fontValue = 14.0 // the value label
	edge      = 2.0  // text keeps this far from the viewBox's sides
)

// attr is one attribute. Its name is always a constant of this package;
// its value is escaped when written.
type attr struct{ name, value string }

// at is an attribute with a string value.
func at(name, value string) attr { return attr{name, value} }

// num is an attribute with a coordinate or length value.
func num(name string, v float64) attr { return attr{name, coord(v)} }

// svgWriter builds the markup. Every attribute value and every text goes
// through esc, so nothing the caller supplies is written unescaped.
type svgWriter struct{ b strings.Builder }

func (w *svgWriter) tag(name string, attrs []attr) {
	w.b.WriteByte('<')
	w.b.WriteString(name)
	for _, a := range attrs {
		w.b.WriteByte(' ')
		w.b.WriteString(a.name)
		w.b.WriteString(`="`)
		w.b.WriteString(esc(a.value))
		w.b.WriteByte('"')
	}
}

// open writes a start tag.
func (w *svgWriter) open(name string, attrs ...attr) {
	w.tag(name, attrs)
	w.b.WriteByte('>')
}

// empty writes an element without content.
func (w *svgWriter) empty(name string, attrs ...attr) {
	w.tag(name, attrs)
	w.b.WriteString("/>")
}

// close writes an end tag.
func (w *svgWriter) close(name string) {
	w.b.WriteString("</")
	w.b.WriteString(name)
	w.b.WriteByte('>')
}

// element writes an element holding text.
func (w *svgWriter) element(name, text string, attrs ...attr) {
	w.open(name, attrs...)
	w.b.WriteString(esc(text))
	w.close(name)
}

// html returns the markup. It is safe: see svgWriter.
func (w *svgWriter) html() template.HTML {
	return template.HTML(w.b.String()) // every value went through esc
}

// esc makes s safe as XML and HTML text or attribute value.
func esc(s string) string { return template.HTMLEscapeString(clean(s)) }

// clean drops what XML 1.0 does not allow in a document: control
// characters other than tab, newline and carriage return, surrogates and
// U+FFFE/U+FFFF. Invalid UTF-8 becomes U+FFFD.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if !xmlChar(r) {
			ok = false
			break
		}
	}
	if ok && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s { // invalid UTF-8 arrives as utf8.RuneError, which XML allows
		if xmlChar(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether r is a Char of XML 1.0.
func xmlChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// blank reports whether s shows nothing.
func blank(s string) bool { return strings.TrimSpace(clean(s)) == "" }

// cleanID turns the caller's id prefix into one usable in ids and in the
// space-separated aria-labelledby list: ASCII letters, digits, '-' and '_'
// are kept, anything else becomes '_', and a prefix that does not start
// with a letter gets "c" in front.
func cleanID(p string) string {
	var b strings.Builder
	b.Grow(len(p) + 1)
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		s = "c" + s
	}
	return s
}

// coord formats a coordinate with at most two decimals. It never writes
// NaN or an infinity: callers keep coordinates finite, and a slip shows as
// 0 rather than as invalid markup.
func coord(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	v = math.Round(v*100) / 100
	if v == 0 {
		return "0" // also for -0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// formatFixed formats a finite number for people with the given number of
// decimals, in exponent form when it is too large or too small for that.
func formatFixed(v float64, decimals int) string {
	if a := math.Abs(v); a >= 1e15 || (a > 0 && a < 1e-6) {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // "-0.0" reads as a sign error
	}
	return s
}

// decimals returns how many decimals, at most 6, people need to read v:
// the fewest that give it back but for float noise (0.1+0.2 needs 1).
func decimals(v float64) int {
	for d := range 6 {
		if math.Abs(roundTo(v, d)-v) <= math.Abs(v)*1e-12 {
			return d
		}
	}
	return 6
}

// roundTo rounds v to dec decimals.
func roundTo(v float64, dec int) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', dec, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// formatter returns the caller's number formatter or the default, which
// writes v with the given decimals and a '.' decimal point.
func formatter(f func(float64) string) func(v float64, decimals int) string {
	if f != nil {
		return func(v float64, _ int) string { return f(v) }
	}
	return formatFixed
}

// finite returns *p and true when p is set and finite.
func finite(p *float64) (float64, bool) {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return 0, false
	}
	return *p, true
}

// sat brings an overflowed result back to the largest finite number of its
// sign, so that arithmetic on extreme inputs stays finite.
func sat(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	}
	return v
}

// scale maps the domain [d0, d1] linearly onto [r0, r1] (r1 may be less
// than r0). It stays finite for any finite input, however large.
type scale struct{ d0, d1, r0, r1 float64 }

// at returns the position of v, clamped to the range.
func (s scale) at(v float64) float64 {
	den := s.d1/2 - s.d0/2 // halves: d1-d0 could overflow
	f := 0.5
	if den > 0 {
		f = (v/2 - s.d0/2) / den
	}
	if math.IsNaN(f) {
		f = 0.5
	}
	f = max(0, min(1, f))
	return s.r0 + f*(s.r1-s.r0)
}

// textWidth estimates the width of s drawn at size in a common sans-serif
// font, erring on the wide side. Layout uses it to keep text inside the
// chart and apart from other text.
func textWidth(s string, size float64) float64 {
	var em float64
	for _, r := range clean(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining marks take no room
		case strings.ContainsRune(" .,:;'!|()[]ijlftrI", r):
			em += 0.32
		case strings.ContainsRune("mwMW%@", r):
			em += 0.88
		case r >= 'A' && r <= 'Z':
			em += 0.72
		case r < 0x80:
			em += 0.58
		case wide(r):
			em += 1.0
		default:
			em += 0.64
		}
	}
	return em * size * 1.08
}

// wide reports whether r is an East Asian wide character.
func wide(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r >= 0xFF01 && r <= 0xFF60 || r >= 0x3000 && r <= 0x303F
}

// label is a text to place on a row: its wanted centre and its width.
type label struct {
	text string
	x, w float64
}

// place puts labels, given left to right, on one row between lo and hi,
// each as near its wanted centre as it can while keeping gap between
// neighbours. It returns the centres, or false when they do not all fit.
func place(ls []label, lo, hi, gap float64) ([]float64, bool) {
	left := make([]float64, len(ls))
	for i, l := range ls {
		left[i] = max(l.x-l.w/2, lo)
		if i > 0 {
			left[i] = max(left[i], left[i-1]+ls[i-1].w+gap)
		}
	}
	for i := len(ls) - 1; i >= 0; i-- {
		left[i] = min(left[i], hi-ls[i].w)
		if i < len(ls)-1 {
			left[i] = min(left[i], left[i+1]-gap-ls[i].w)
		}
	}
	centres := make([]float64, len(ls))
	for i, l := range ls {
		if left[i] < lo || math.IsNaN(left[i]) {
			return nil, false
		}
		centres[i] = left[i] + l.w/2
	}
	return centres, true
}

// anchored returns where to write a text of width w wanted centred on x so
// that it stays between lo and hi: centred when it fits, else flush with
// the nearer side.
func anchored(x, w, lo, hi float64) (pos float64, anchor string) {
	switch {
	case x-w/2 < lo:
		return lo, "start"
	case x+w/2 > hi:
		return hi, "end"
	}
	return x, "middle"
}

// header writes the svg start tag, its title and its desc. The title is
// the short name; desc, when not blank, the full text alternative.
func (w *svgWriter) header(idPrefix, class string, height float64, title, desc string) {
	id := cleanID(idPrefix)
	labelledBy := id + "-title"
	if !blank(desc) {
		labelledBy += " " + id + "-desc"
	}
	w.open("svg",
		at("xmlns", "http://www.w3.org/2000/svg"),
		at("class", class),
		at("viewBox", "0 0 "+coord(viewWidth)+" "+coord(height)),
		at("width", "100%"),
		at("role", "img"),
		at("aria-labelledby", labelledBy),
		at("font-family", "sans-serif"),
		num("font-size", fontSmall),
	)
	w.element("title", title, at("id", id+"-title"))
	if !blank(desc) {
		w.element("desc", desc, at("id", id+"-desc"))
	}
}

// namesOf picks the title and desc: the title falls back to desc, then to
// fallback; desc is dropped when it became the title.
func namesOf(title, desc, fallback string) (string, string) {
	if blank(title) {
		title, desc = desc, ""
	}
	if blank(title) {
		title = fallback
	}
	return title, desc
}
