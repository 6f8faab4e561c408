package chart

import (
	"html/template"
	"math"
	"slices"
	"strings"
)

// Range is one result against its reference range, with the words to show,
// localised by the caller.
type Range struct {
	// Value is the result. A value that is not finite draws nothing.
	Value float64
	// Low and High are the reference limits; either may be nil for a
	// one-sided range (then the bar has two zones), not both. Limits that
	// are not finite count as absent; when Low > High the two are swapped.
	Low, High *float64
	// CriticalLow and CriticalHigh are optional critical limits, drawn as
	// a dashed line and a darker part of the low or high zone. A critical
	// limit is ignored without the reference limit on its side, when it
	// is not beyond that limit, or when it lies too far out to fit.
	CriticalLow, CriticalHigh *float64
	// Unit is the result's unit ("%", "mmol/L"), used in the default
	// value label.
	Unit string

	// Title is the chart's short name ("Hemoglobin A1c").
	Title string
	// Desc is the full text alternative, a sentence that says everything
	// the chart shows ("Your result 8.1 % is above the usual range of 4.0
	// to 5.6 %.").
	Desc string
	// LowLabel, NormalLabel and HighLabel name the zones ("Low", "Usual
	// range", "High"). A blank label leaves its zone unnamed.
	LowLabel, NormalLabel, HighLabel string
	// ValueLabel is written above the marker ("Your result: 8.1 %"); it
	// should state the exact value, which matters most when the marker is
	// clamped to the end of the bar. Blank means the value and the unit.
	// Keep it short: it is one line of at most about 40 characters.
	ValueLabel string
	// FormatNumber, when set, writes the limits under the bar and the
	// default value label (for a decimal comma, say). Nil writes them with
	// strconv and a '.' decimal point.
	FormatNumber func(float64) string
}

// The range bar's layout, in user units.
const (
	barX0     = 10.0
	barX1     = viewWidth - 10
	valueY    = 17.0 // baseline of the value label
	markerTop = 22.0
	barTop    = 36.0
	barH      = 24.0
	tickLen   = 6.0
	limitY    = 80.0 // baseline of the limit numbers
	zoneRowY  = 98.0 // baseline of the zone names when they sit under the bar
)

// zone is a stretch of the bar.
type zone struct {
	from, to          float64
	class, fill, name string
}

// RangeBar returns an SVG chart of r: a horizontal bar of a low zone, a
// usual-range zone and a high zone (two zones for a one-sided range), the
// limits written under it, and a marker with the value label above it.
//
// The scale is linear and chosen so that the limits, the critical limits
// and the value fit with a margin. A value too far out for that is drawn
// as a double chevron at the end of the bar on its side (class
// rb-offscale); the value label still gives the exact value.
//
// idPrefix starts the ids of the title and desc elements and must be
// unique on the page; see the package doc for how it is cleaned.
// RangeBar returns empty HTML when Value is not finite or the range has
// no finite limit.
func RangeBar(idPrefix string, r Range) template.HTML {
	v := r.Value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	lo, hasLo := finite(r.Low)
	hi, hasHi := finite(r.High)
	if !hasLo && !hasHi {
		return ""
	}
	if hasLo && hasHi && lo > hi {
		lo, hi = hi, lo
	}
	clo, hasClo := finite(r.CriticalLow)
	chi, hasChi := finite(r.CriticalHigh)
	hasClo = hasClo && hasLo && clo < lo
	hasChi = hasChi && hasHi && chi > hi

	// The domain starts with a margin around the limits (d0, d1) and may
	// grow, to fit the value and the critical limits, up to e0 and e1.
	var span, d0, d1, e0, e1 float64
	switch {
	case hasLo && hasHi:
		span = sat(hi - lo)
		if span == 0 {
			span = math.Abs(hi) * 0.2
		}
		span = nonzero(span)
		d0, d1 = sat(lo-span/2), sat(hi+span/2)
		// A narrow range of large numbers (HbA1c 4.0 to 5.6 %) may grow
		// by more than its width: results far from it are common.
		grow := sat(1.5 * max(span, max(math.Abs(lo), math.Abs(hi))/2))
		e0, e1 = sat(lo-grow), sat(hi+grow)
	case hasHi:
		span = nonzero(math.Abs(hi))
		d0, d1 = sat(hi-span), sat(hi+span/2)
		e0, e1 = sat(hi-sat(2.5*span)), sat(hi+sat(1.5*span))
	default:
		span = nonzero(math.Abs(lo))
		d0, d1 = sat(lo-span/2), sat(lo+span)
		e0, e1 = sat(lo-sat(1.5*span)), sat(lo+sat(2.5*span))
	}
	// A chart of quantities that cannot be negative does not reach below 0.
	if v >= 0 && (!hasLo || lo >= 0) && (!hasHi || hi >= 0) && (!hasClo || clo >= 0) {
		d0, e0 = max(d0, 0), max(e0, 0)
	}
	margin := sat(0.15 * span)
	// fit grows the domain to hold p, and reports -1 or +1, leaving the
	// domain as it was, when p lies beyond the farthest it may grow.
	fit := func(p float64) int {
		switch {
		case p < e0:
			return -1
		case p > e1:
			return 1
		case p < d0:
			d0 = max(e0, sat(p-margin))
		case p > d1:
			d1 = min(e1, sat(p+margin))
		}
		return 0
	}
	if hasClo && fit(clo) != 0 {
		hasClo = false
	}
	if hasChi && fit(chi) != 0 {
		hasChi = false
	}
	off := fit(v) // an off-scale value leaves the bar as the limits make it
	sx := scale{d0, d1, barX0, barX1}

	var zones []zone
	normal := zone{d0, d1, "rb-normal", colNormal, r.NormalLabel}
	if hasLo {
		zones = append(zones, zone{d0, lo, "rb-low", colOut, r.LowLabel})
		normal.from = lo
	}
	if hasHi {
		normal.to = hi
	}
	zones = append(zones, normal)
	if hasHi {
		zones = append(zones, zone{hi, d1, "rb-high", colOut, r.HighLabel})
	}

	// Zone names go inside the bar when every one fits its zone, else all
	// on a row under the limits.
	var names []label
	inside := true
	for _, z := range zones {
		if blank(z.name) {
			continue
		}
		x0, x1 := sx.at(z.from), sx.at(z.to)
		l := label{z.name, (x0 + x1) / 2, textWidth(z.name, fontSmall)}
		inside = inside && l.w+8 <= x1-x0
		names = append(names, l)
	}
	height := limitY + 6
	var nameX []float64
	if !inside {
		nameX, names = placeAll(names, 8)
		height = zoneRowY + 6
	}

	format := formatter(r.FormatNumber)
	valueText := r.ValueLabel
	if blank(valueText) {
		valueText = strings.TrimSpace(format(v, decimals(v)) + " " + r.Unit)
	}
	title, desc := namesOf(r.Title, r.Desc, valueText)

	var w svgWriter
	w.header(idPrefix, "chart chart-range", height, title, desc)
	for _, z := range zones {
		x0, x1 := sx.at(z.from), sx.at(z.to)
		w.empty("rect", at("class", "rb-zone "+z.class), num("x", x0), num("y", barTop),
			num("width", x1-x0), num("height", barH), at("fill", z.fill))
	}
	critical := func(from, to, limit float64) {
		x0, x1 := sx.at(from), sx.at(to)
		w.empty("rect", at("class", "rb-zone rb-critical"), num("x", x0), num("y", barTop),
			num("width", x1-x0), num("height", barH), at("fill", colCritical))
		x := sx.at(limit)
		w.empty("line", at("class", "rb-critical-limit"), num("x1", x), num("y1", barTop), num("x2", x),
			num("y2", barTop+barH+tickLen), at("stroke", colMuted), num("stroke-width", 1.5), at("stroke-dasharray", "3 2"))
	}
	if hasClo {
		critical(d0, clo, clo)
	}
	if hasChi {
		critical(chi, d1, chi)
	}
	w.empty("rect", at("class", "rb-bar"), num("x", barX0), num("y", barTop), num("width", barX1-barX0),
		num("height", barH), at("fill", "none"), at("stroke", colMuted), num("stroke-width", 1))
	for _, lim := range limitsOf(hasLo, lo, hasHi, hi) {
		x := sx.at(lim)
		w.empty("line", at("class", "rb-limit"), num("x1", x), num("y1", barTop), num("x2", x),
			num("y2", barTop+barH+tickLen), at("stroke", colMuted), num("stroke-width", 1.5))
	}
	for i, l := range names {
		x, y := l.x, barTop+barH/2+4.5
		if !inside {
			x, y = nameX[i], zoneRowY
		}
		w.element("text", l.text, at("class", "rb-zone-label"), num("x", x), num("y", y),
			at("text-anchor", "middle"), at("fill", colInk))
	}

	// The limits under the bar, all with the same decimals; the critical
	// ones give way first when they do not all fit.
	dec := 0
	for _, p := range []struct {
		ok bool
		v  float64
	}{{hasClo, clo}, {hasLo, lo}, {hasHi, hi}, {hasChi, chi}} {
		if p.ok {
			dec = max(dec, decimals(p.v))
		}
	}
	limitLabel := func(v float64) label {
		s := format(v, dec)
		return label{s, sx.at(v), textWidth(s, fontSmall)}
	}
	var refs, below, above []label
	for _, lim := range limitsOf(hasLo, lo, hasHi, hi) {
		refs = append(refs, limitLabel(lim))
	}
	if hasClo {
		below = append(below, limitLabel(clo))
	}
	if hasChi {
		above = append(above, limitLabel(chi))
	}
	limits := slices.Concat(below, refs, above)
	limitX, ok := place(limits, edge, viewWidth-edge, 6)
	if !ok {
		limitX, limits = placeAll(refs, 6)
	}
	for i, l := range limits {
		w.element("text", l.text, at("class", "rb-limit-text"), num("x", limitX[i]), num("y", limitY),
			at("text-anchor", "middle"), at("fill", colMuted))
	}

	// The marker: a triangle pointing down at the value, or a double
	// chevron at the end of the bar when the value is beyond it.
	valueW := textWidth(valueText, fontValue) * 1.06 // bold
	var tx float64
	var anchor string
	switch off {
	case 0:
		x := sx.at(v)
		w.empty("polygon", at("class", "rb-marker"),
			at("points", coord(x-7)+","+coord(markerTop)+" "+coord(x+7)+","+coord(markerTop)+" "+coord(x)+","+coord(barTop)),
			at("fill", colInk), at("stroke", colWhite), num("stroke-width", 1))
		w.empty("line", at("class", "rb-marker"), num("x1", x), num("y1", barTop), num("x2", x), num("y2", barTop+6),
			at("stroke", colInk), num("stroke-width", 2))
		tx, anchor = anchored(x, valueW, edge, viewWidth-edge)
	default:
		// off is -1 or +1: the chevrons point outward from the bar's end.
		end := barX1
		tx, anchor = viewWidth-edge, "end"
		if off < 0 {
			end = barX0
			tx, anchor = edge, "start"
		}
		o := float64(off)
		mid := markerTop + (barTop-markerTop)/2
		var d strings.Builder
		for _, tip := range []float64{end - o*6.5, end} {
			d.WriteString("M" + coord(tip-o*6.5) + " " + coord(markerTop) + "L" + coord(tip) + " " + coord(mid) +
				"L" + coord(tip-o*6.5) + " " + coord(barTop))
		}
		w.empty("path", at("class", "rb-marker rb-offscale"), at("d", d.String()), at("fill", "none"),
			at("stroke", colInk), num("stroke-width", 2.5), at("stroke-linecap", "round"), at("stroke-linejoin", "round"))
	}
	w.element("text", valueText, at("class", "rb-value"), num("x", tx), num("y", valueY),
		at("text-anchor", anchor), num("font-size", fontValue), at("font-weight", "bold"), at("fill", colInk))
	w.close("svg")
	return w.html()
}

// nonzero returns v, or 1 when v is 0.
func nonzero(v float64) float64 {
	if v == 0 {
		return 1
	}
	return v
}

// limitsOf lists the reference limits present, low first.
func limitsOf(hasLo bool, lo float64, hasHi bool, hi float64) []float64 {
	var ls []float64
	if hasLo {
		ls = append(ls, lo)
	}
	if hasHi {
		ls = append(ls, hi)
	}
	return ls
}

// placeAll places labels on a row across the chart, gap apart, leaving
// out the last ones when they do not all fit, and returns the centres with
// the labels kept.
func placeAll(ls []label, gap float64) ([]float64, []label) {
	for n := len(ls); n > 0; n-- {
		if xs, ok := place(ls[:n], edge, viewWidth-edge, gap); ok {
			return xs, ls[:n]
		}
	}
	return nil, nil
}
