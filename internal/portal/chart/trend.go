package chart

import (
	"html/template"
	"math"
	"slices"
	"strings"
	"time"
)

// Point is one result in a trend.
type Point struct {
	// At is when the sample was taken; points are spaced by it.
	At time.Time
	// Value is the result. A point whose value is not finite is left out.
	Value float64
	// Label states the point for people ("12 Mar 2026: 7.2 %"). It is the
	// point's tooltip, and the chart's text alternative is made of the
	// labels when Trend.Desc is blank.
	Label string
	// Flagged marks a result outside the usual range (or otherwise of
	// note); it is drawn as a diamond where the others are circles.
	Flagged bool
}

// Trend is the results of one test over time, with the words to show,
// localised by the caller.
type Trend struct {
	// Points are the results, oldest first (TrendChart sorts a copy by
	// time, so another order draws the same chart).
	Points []Point
	// Low and High bound the usual range, drawn as a shaded band; either
	// may be nil for a one-sided range, or both for no band. Limits that
	// are not finite count as absent; when Low > High the two are swapped.
	Low, High *float64
	// Unit is written above the y axis ("%", "mmol/L").
	Unit string
	// Title is the chart's short name ("Hemoglobin A1c over time").
	Title string
	// Desc is the full text alternative ("Your results rose from 7.2 %
	// in March to 8.1 % in September; the usual range is 4.0 to 5.6 %.").
	// Blank means the points' labels, joined by "; ".
	Desc string
	// DateLabel writes the dates under the x axis ("Mar 2026"). Nil
	// writes them as 2006-01-02.
	DateLabel func(time.Time) string
	// FormatNumber, when set, writes the numbers of the y axis (for a
	// decimal comma, say). Nil writes them with strconv and a '.' decimal
	// point.
	FormatNumber func(float64) string
}

// The trend chart's layout, in user units.
const (
	trendHeight = 196.0
	unitY       = 13.0  // baseline of the unit
	plotTop     = 26.0  // the highest y tick
	plotBottom  = 166.0 // the lowest y tick and the x axis
	dateY       = 186.0 // baseline of the dates
	plotRight   = viewWidth - 10
	// Points keep this far from the plot's left and right sides.
	padLeft, padRight = 10.0, 8.0
)

// TrendChart returns an SVG line chart of t: a line through the points,
// spaced by time, with a mark on each (a circle, or a diamond when
// flagged), the usual range as a shaded band, a y axis of 3 to 5 round
// tick values that holds the points and the band, and the first and last
// dates (and the middle one when there is room) under the x axis. A
// single point is drawn in the middle. Where the points stand too close
// for a mark each (about 45 or more), only the flagged ones have theirs.
//
// idPrefix starts the ids of the title and desc elements and must be
// unique on the page; see the package doc for how it is cleaned.
// TrendChart returns empty HTML when no point has a finite value.
func TrendChart(idPrefix string, t Trend) template.HTML {
	pts := make([]Point, 0, len(t.Points))
	for _, p := range t.Points {
		if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
			pts = append(pts, p)
		}
	}
	if len(pts) == 0 {
		return ""
	}
	slices.SortStableFunc(pts, func(a, b Point) int { return a.At.Compare(b.At) })
	first, last := pts[0], pts[len(pts)-1]

	lo, hasLo := finite(t.Low)
	hi, hasHi := finite(t.High)
	if hasLo && hasHi && lo > hi {
		lo, hi = hi, lo
	}
	ymin, ymax := first.Value, first.Value
	for _, p := range pts {
		ymin, ymax = min(ymin, p.Value), max(ymax, p.Value)
	}
	if hasLo {
		ymin, ymax = min(ymin, lo), max(ymax, lo)
	}
	if hasHi {
		ymin, ymax = min(ymin, hi), max(ymax, hi)
	}
	ticks, dec := niceTicks(ymin, ymax)
	format := formatter(t.FormatNumber)
	tickText := make([]string, len(ticks))
	var tickW float64
	for i, v := range ticks {
		tickText[i] = format(v, dec)
		tickW = max(tickW, textWidth(tickText[i], fontSmall))
	}
	left := min(edge+tickW+6, viewWidth/2)
	sy := scale{ticks[0], ticks[len(ticks)-1], plotBottom, plotTop}
	sx := scale{seconds(first.At), seconds(last.At), left + padLeft, plotRight - padRight}
	xOf := func(at time.Time) float64 { return sx.at(seconds(at)) }

	// The dates: first, middle and last when they fit, else fewer; one
	// date when all points share it.
	dateLabel := t.DateLabel
	if dateLabel == nil {
		dateLabel = func(at time.Time) string { return at.Format("2006-01-02") }
	}
	type date struct {
		label
		tick float64 // where on the axis the date is
	}
	dateOf := func(at time.Time) date {
		s := dateLabel(at)
		x := xOf(at)
		return date{label{s, x, textWidth(s, fontSmall)}, x}
	}
	var candidates [][]date
	d0, d1 := dateOf(first.At), dateOf(last.At)
	if d0.text == d1.text {
		d0.x = (d0.x + d1.x) / 2
		d0.tick = d0.x
		candidates = [][]date{{d0}}
	} else {
		if span := last.At.Sub(first.At); span > 0 && span < time.Duration(math.MaxInt64) {
			if dm := dateOf(first.At.Add(span / 2)); dm.text != d0.text && dm.text != d1.text {
				candidates = append(candidates, []date{d0, dm, d1})
			}
		}
		candidates = append(candidates, []date{d0, d1}, []date{d1})
	}
	var dates []date
	var dateX []float64
	for _, c := range candidates {
		c = slices.DeleteFunc(c, func(d date) bool { return blank(d.text) })
		ls := make([]label, len(c))
		for i, d := range c {
			ls[i] = d.label
		}
		if xs, ok := place(ls, edge, viewWidth-edge, 10); ok {
			dates, dateX = c, xs
			break
		}
	}

	desc := t.Desc
	if blank(desc) {
		var ls []string
		for _, p := range pts {
			if !blank(p.Label) {
				ls = append(ls, strings.TrimSpace(p.Label))
			}
		}
		desc = strings.Join(ls, "; ")
	}
	values := make([]string, len(pts))
	for i, p := range pts {
		values[i] = format(p.Value, decimals(p.Value))
	}
	title, desc := namesOf(t.Title, desc, strings.TrimSpace(strings.Join(values, ", ")+" "+t.Unit))

	var w svgWriter
	w.header(idPrefix, "chart chart-trend", trendHeight, title, desc)
	if !blank(t.Unit) {
		w.element("text", t.Unit, at("class", "tc-unit"), num("x", edge), num("y", unitY),
			at("text-anchor", "start"), at("fill", colMuted))
	}
	if hasLo || hasHi {
		top, bottom := plotTop, plotBottom
		if hasHi {
			top = sy.at(hi)
		}
		if hasLo {
			bottom = sy.at(lo)
		}
		w.empty("rect", at("class", "tc-band"), num("x", left), num("y", top), num("width", plotRight-left),
			num("height", bottom-top), at("fill", colNormal))
	}
	for i, v := range ticks {
		y := sy.at(v)
		w.empty("line", at("class", "tc-grid"), num("x1", left), num("y1", y), num("x2", plotRight), num("y2", y),
			at("stroke", colGrid), num("stroke-width", 1))
		w.element("text", tickText[i], at("class", "tc-tick-label"), num("x", left-6), num("y", y+4.5),
			at("text-anchor", "end"), at("fill", colMuted))
	}
	w.empty("line", at("class", "tc-axis"), num("x1", left), num("y1", plotBottom), num("x2", plotRight),
		num("y2", plotBottom), at("stroke", colMuted), num("stroke-width", 1))
	for i, d := range dates {
		w.empty("line", at("class", "tc-axis"), num("x1", d.tick), num("y1", plotBottom), num("x2", d.tick),
			num("y2", plotBottom+5), at("stroke", colMuted), num("stroke-width", 1))
		w.element("text", d.text, at("class", "tc-date-label"), num("x", dateX[i]), num("y", dateY),
			at("text-anchor", "middle"), at("fill", colMuted))
	}

	if len(pts) > 1 {
		var b strings.Builder
		for i, p := range pts {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(coord(xOf(p.At)) + "," + coord(sy.at(p.Value)))
		}
		w.empty("polyline", at("class", "tc-line"), at("points", b.String()), at("fill", "none"),
			at("stroke", colLine), num("stroke-width", 2), at("stroke-linejoin", "round"))
	}
	// Where the points stand closer than a mark's width the line alone
	// shows them, and only the flagged ones get a (smaller) mark.
	dense := (plotRight-padRight-left-padLeft)/float64(len(pts)) < 6
	radius, half := 4.0, 6.0
	if dense {
		half = 4.5
	}
	for _, p := range pts {
		if dense && !p.Flagged {
			continue
		}
		x, y := xOf(p.At), sy.at(p.Value)
		name, attrs := "circle", []attr{at("class", "tc-point"), num("cx", x), num("cy", y), num("r", radius),
			at("fill", colWhite), at("stroke", colLine), num("stroke-width", 2)}
		if p.Flagged {
			name, attrs = "polygon", []attr{at("class", "tc-point tc-flagged"),
				at("points", coord(x)+","+coord(y-half)+" "+coord(x+half)+","+coord(y)+" "+
					coord(x)+","+coord(y+half)+" "+coord(x-half)+","+coord(y)),
				at("fill", colFlagged), at("stroke", colWhite), num("stroke-width", 1.5)}
		}
		if blank(p.Label) {
			w.empty(name, attrs...)
			continue
		}
		w.open(name, attrs...)
		w.element("title", p.Label)
		w.close(name)
	}
	w.close("svg")
	return w.html()
}

// seconds returns t as seconds since 1970, a float so that any two times
// subtract without overflow.
func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// niceTicks returns 3 to 5 evenly spaced, round tick values, ascending, the
// first at or below lo and the last at or above hi, and the decimals their
// labels need. The step is 1, 2, 2.5 or 5 times a power of ten, the
// smallest that needs no more than 5 ticks. When lo equals hi the ticks
// go round it. lo and hi must be finite. For extreme input where no such
// ticks exist in float64 (a span beyond the largest float, or too fine for
// the magnitude) it returns lo and hi themselves.
func niceTicks(lo, hi float64) ([]float64, int) {
	if lo > hi {
		lo, hi = hi, lo
	}
	if lo == hi {
		d := math.Abs(lo) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = sat(lo-d), sat(hi+d)
	}
	span := hi - lo
	if span > 0 && !math.IsInf(span, 0) {
		exp := math.Floor(math.Log10(span / 4)) // -Inf when span/4 underflows
		for i := range 3 {
			e := exp + float64(i)
			for _, m := range []float64{1, 2, 2.5, 5} {
				step := m * math.Pow(10, e)
				if !(step > 0) || math.IsInf(step, 0) {
					continue
				}
				k0, k1 := math.Floor(lo/step), math.Ceil(hi/step)
				n := k1 - k0 + 1
				if !(n <= 5) {
					continue
				}
				n = max(n, 3)
				dec := 0
				if e < 0 {
					dec = int(-e)
				}
				if m == 2.5 && e <= 0 {
					dec++
				}
				ticks := make([]float64, int(n))
				for i := range ticks {
					ticks[i] = roundTo((k0+float64(i))*step, dec)
				}
				if increasing(ticks) {
					return ticks, dec
				}
			}
		}
	}
	return []float64{lo, hi}, max(decimals(lo), decimals(hi))
}

// increasing reports whether vs are finite and strictly increasing.
func increasing(vs []float64) bool {
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) || i > 0 && v <= vs[i-1] {
			return false
		}
	}
	return true
}
