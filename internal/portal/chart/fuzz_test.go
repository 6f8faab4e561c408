package chart

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkMarkup checks what must hold for any input: the chart is one
// well-formed svg element, holds no script and no style, has finite
// numbers in every attribute, names existing elements in aria-labelledby,
// and keeps the caller's title and desc as given (escaped, not lost).
func checkMarkup(t *testing.T, out template.HTML, title, desc string) {
	t.Helper()
	lower := strings.ToLower(string(out))
	for _, bad := range []string{"<script", "<style", "style=", "javascript:", "<foreignobject", "href="} {
		if strings.Contains(lower, bad) {
			t.Fatalf("output holds %q:\n%s", bad, out)
		}
	}
	root, err := decodeSVG(string(out))
	if err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, out)
	}
	ids := map[string]bool{}
	for _, n := range root.all(func(*node) bool { return true }) {
		for k, v := range n.attr {
			switch k {
			case "id":
				if ids[v] {
					t.Fatalf("id %q twice", v)
				}
				ids[v] = true
			case "aria-labelledby":
			default:
				if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
					t.Fatalf("<%s %s=%q>", n.name, k, v)
				}
			}
		}
	}
	for _, id := range strings.Fields(root.attr["aria-labelledby"]) {
		if !ids[id] {
			t.Fatalf("aria-labelledby names %q, which is not there", id)
		}
	}
	if root.attr["role"] != "img" || len(root.children) == 0 || root.children[0].name != "title" {
		t.Fatalf("no role img or no title first")
	}
	if blank(title) {
		return
	}
	if got, want := root.children[0].text, asParsed(title); got != want {
		t.Fatalf("title %q, want %q", got, want)
	}
	if blank(desc) {
		return
	}
	descs := root.byName("desc")
	if len(descs) != 1 || descs[0].text != asParsed(desc) {
		t.Fatalf("desc elements %d, want one with %q", len(descs), asParsed(desc))
	}
}

// asParsed returns s as an XML parser reads it back from the chart.
func asParsed(s string) string {
	s = clean(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// FuzzRangeBar draws range bars from any numbers and words. present says
// which limits are set (bits 1 low, 2 high, 4 critical low, 8 critical
// high) and whether a number formatter is used (16).
func FuzzRangeBar(f *testing.F) {
	type seed struct {
		prefix                                   string
		v, lo, hi, clo, chi                      float64
		present                                  uint8
		title, desc, low, norm, hi2, value, unit string
	}
	for _, s := range []seed{
		{"a1c", 8.1, 4, 5.6, 0, 0, 3, "Hemoglobin A1c", "Your result 8.1 % is above the usual range of 4.0 to 5.6 %.", "Low", "Usual range", "High", "Your result: 8.1 %", "%"},
		{"k", 4.6, 3.5, 5.1, 2.5, 6.5, 15, "Potassium", "", "Low", "Usual range", "High", "", "mmol/L"},
		{`x"><script>alert(1)</script>`, 1, 2, 3, 0, 0, 3, "<script>alert(1)</script>", `"'&<>`, "</text><script>", "]]>", "<!--", `" onload="x`, "\x00\x01\uFFFE"},
		{"nan", math.NaN(), 1, 2, 0, 0, 3, "t", "d", "", "", "", "", ""},
		{"inf", math.Inf(1), 1, 2, 0, 0, 3, "t", "d", "", "", "", "", ""},
		{"inflim", 1, math.Inf(-1), math.Inf(1), math.NaN(), math.Inf(1), 15, "t", "", "", "", "", "", ""},
		{"huge", math.MaxFloat64, -math.MaxFloat64, math.MaxFloat64, -math.MaxFloat64, math.MaxFloat64, 31, "t", "d", "L", "N", "H", "", ""},
		{"swapped", 5, 9, 1, 12, -3, 15, "t", "d", "Low", "Usual", "High", "", ""},
		{"one-sided", 160, 0, 100, 0, 300, 10, "LDL", "", "", "Usual range", "High", "", "mg/dL"},
		{"tiny", 5e-324, 0, 1e-323, 0, 0, 3, "", "", "", "", "", "", ""},
		{"", 0, 0, 0, 0, 0, 0, "", "", "", "", "", "", ""},
		{"long", -1e20, 1e-9, 2e-9, 0, 0, 3, strings.Repeat("Very long title ", 20), "", strings.Repeat("Low ", 30), strings.Repeat("x", 200), "漢字漢字漢字漢字", "\xff\xfe", "\t\r\n"},
	} {
		f.Add(s.prefix, s.v, s.lo, s.hi, s.clo, s.chi, s.present, s.title, s.desc, s.low, s.norm, s.hi2, s.value, s.unit)
	}
	f.Fuzz(func(t *testing.T, prefix string, v, lo, hi, clo, chi float64, present uint8,
		title, desc, lowLabel, normalLabel, highLabel, valueLabel, unit string) {
		r := Range{Value: v, Unit: unit, Title: title, Desc: desc,
			LowLabel: lowLabel, NormalLabel: normalLabel, HighLabel: highLabel, ValueLabel: valueLabel}
		if present&1 != 0 {
			r.Low = &lo
		}
		if present&2 != 0 {
			r.High = &hi
		}
		if present&4 != 0 {
			r.CriticalLow = &clo
		}
		if present&8 != 0 {
			r.CriticalHigh = &chi
		}
		if present&16 != 0 {
			r.FormatNumber = func(float64) string { return unit + valueLabel }
		}
		out := RangeBar(prefix, r)
		_, okLo := finite(r.Low)
		_, okHi := finite(r.High)
		drawable := !math.IsNaN(v) && !math.IsInf(v, 0) && (okLo || okHi)
		if out == "" {
			if drawable {
				t.Fatalf("empty chart for %+v", r)
			}
			return
		}
		if !drawable {
			t.Fatalf("a chart for %+v", r)
		}
		checkMarkup(t, out, title, desc)
	})
}

// FuzzTrendChart draws trends from any numbers, times and words: n points
// whose values and times cycle through the three given. present says
// whether the band's limits are set (bits 1 low, 2 high), whether every
// other point is flagged (4), and whether the caller formats dates (8) and
// numbers (16).
func FuzzTrendChart(f *testing.F) {
	type seed struct {
		prefix                         string
		n                              uint8
		v0, v1, v2, lo, hi             float64
		t0, t1, t2                     int64
		present                        uint8
		title, desc, unit, label, date string
	}
	jan := time.Date(2025, 1, 5, 9, 0, 0, 0, time.UTC).Unix()
	for _, s := range []seed{
		{"a1c", 4, 6.1, 5.4, 8.1, 4, 5.6, jan, jan + 86400*60, jan + 86400*250, 15, "Hemoglobin A1c", "", "%", "A result", "Mar "},
		{"one", 1, 7, 0, 0, 0, 0, jan, 0, 0, 0, "", "", "", "", ""},
		{"none", 0, 1, 2, 3, 0, 0, 0, 0, 0, 3, "t", "d", "", "", ""},
		{`"><script>`, 3, 1, 2, 3, 3, 1, 1, 2, 3, 31, "<script>x</script>", `'"&`, "</text>", "<b>", "]]>"},
		{"nan", 5, math.NaN(), math.Inf(1), math.Inf(-1), math.NaN(), math.Inf(1), 0, 0, 0, 7, "t", "", "", "", ""},
		{"huge", 9, math.MaxFloat64, -math.MaxFloat64, 0, -math.MaxFloat64, math.MaxFloat64, math.MinInt64, math.MaxInt64, 0, 31, "t", "", "u", "l", "d"},
		{"flat", 50, 5, 5, 5, 5, 5, jan, jan, jan, 7, "", "", "", "", ""},
		{"tiny", 3, 5e-324, 1e-323, 0, 0, 0, 0, 1, 2, 0, "", "", "", "\x00\x07", "\xff"},
		{"close", 3, 1e17, 1e17 + 16, 1e17 + 32, 0, 0, jan, jan + 1, jan + 2, 0, "t", "d", "", "", ""},
		{"many", 255, 1, 100, -100, -50, 50, jan, jan + 3600, jan - 86400*3650, 15, "t", "", "", strings.Repeat("label ", 10), strings.Repeat("date ", 20)},
	} {
		f.Add(s.prefix, s.n, s.v0, s.v1, s.v2, s.lo, s.hi, s.t0, s.t1, s.t2, s.present, s.title, s.desc, s.unit, s.label, s.date)
	}
	f.Fuzz(func(t *testing.T, prefix string, n uint8, v0, v1, v2, lo, hi float64, t0, t1, t2 int64, present uint8,
		title, desc, unit, label, date string) {
		vs, ts := []float64{v0, v1, v2}, []int64{t0, t1, t2}
		tr := Trend{Unit: unit, Title: title, Desc: desc}
		drawable := false
		for i := range int(n) {
			p := Point{At: time.Unix(ts[i%3], int64(i)), Value: vs[i%3], Label: label, Flagged: present&4 != 0 && i%2 == 0}
			tr.Points = append(tr.Points, p)
			drawable = drawable || !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0)
		}
		if present&1 != 0 {
			tr.Low = &lo
		}
		if present&2 != 0 {
			tr.High = &hi
		}
		if present&8 != 0 {
			tr.DateLabel = func(at time.Time) string { return date + strconv.Itoa(at.Year()) }
		}
		if present&16 != 0 {
			tr.FormatNumber = func(float64) string { return label }
		}
		out := TrendChart(prefix, tr)
		if (out != "") != drawable {
			t.Fatalf("chart %q for %d points, drawable %v", out, n, drawable)
		}
		if out == "" {
			return
		}
		checkMarkup(t, out, title, desc)
	})
}
