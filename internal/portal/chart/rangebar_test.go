package chart

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// hba1c is a result above a two-sided range, with every word set.
func hba1c(v float64) Range {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	return Range{
		Value: v, Low: ptr(4), High: ptr(5.6), Unit: "%",
		Title:    "Hemoglobin A1c",
		Desc:     "Your result " + s + " % is above the usual range of 4.0 to 5.6 %.",
		LowLabel: "Low", NormalLabel: "Usual range", HighLabel: "High",
		ValueLabel: "Your result: " + s + " %",
	}
}

func TestRangeBarAccessible(t *testing.T) {
	r := hba1c(8.1)
	root := parseSVG(t, RangeBar("a1c-2026-03", r))
	checkCommon(t, root, "a1c-2026-03", r.Title, r.Desc)
	if !root.hasClass("chart-range") {
		t.Errorf("class %q lacks chart-range", root.attr["class"])
	}
	if got := root.texts("rb-zone-label"); strings.Join(got, "|") != "Low|Usual range|High" {
		t.Errorf("zone labels %q", got)
	}
	if got := root.texts("rb-value"); len(got) != 1 || got[0] != "Your result: 8.1 %" {
		t.Errorf("value label %q", got)
	}
	// Every shape reads without a style sheet: it has its own fill or stroke.
	for _, s := range root.all(func(n *node) bool {
		return n.name == "rect" || n.name == "line" || n.name == "polygon" || n.name == "path"
	}) {
		if s.attr["fill"] == "" && s.attr["stroke"] == "" {
			t.Errorf("<%s class=%q> has neither fill nor stroke", s.name, s.attr["class"])
		}
		if s.attr["class"] == "" {
			t.Errorf("<%s> has no class", s.name)
		}
	}
}

// zoneOf returns the class of the zone whose rect spans x (rb-low,
// rb-normal or rb-high); a limit between two zones belongs to the usual
// range.
func zoneOf(t *testing.T, root *node, x float64) string {
	t.Helper()
	var found []string
	for _, z := range root.byClass("rb-zone") {
		if z.hasClass("rb-critical") {
			continue
		}
		x0 := z.f(t, "x")
		if x >= x0 && x <= x0+z.f(t, "width") {
			found = append(found, strings.TrimSpace(strings.TrimPrefix(z.attr["class"], "rb-zone")))
		}
	}
	if len(found) == 0 {
		t.Fatalf("no zone spans x=%v", x)
	}
	if len(found) > 1 {
		return "rb-normal"
	}
	return found[0]
}

// markerX returns where the marker's triangle points, failing when the
// value was drawn off scale.
func markerX(t *testing.T, root *node) float64 {
	t.Helper()
	if off := root.byClass("rb-offscale"); len(off) > 0 {
		t.Fatalf("value drawn off scale")
	}
	var tips []float64
	for _, m := range root.byClass("rb-marker") {
		if m.name == "polygon" {
			ps := m.points(t)
			if len(ps) != 3 || ps[2][1] != barTop {
				t.Fatalf("marker %q does not point down at the bar", m.attr["points"])
			}
			tips = append(tips, ps[2][0])
		}
	}
	if len(tips) != 1 {
		t.Fatalf("%d marker triangles, want 1", len(tips))
	}
	return tips[0]
}

func TestRangeBarMarkerZone(t *testing.T) {
	tests := []struct {
		name      string
		r         Range
		zone      string
		zones     []string
		limitText []string
	}{
		{"inside", Range{Value: 5, Low: ptr(4), High: ptr(5.6)}, "rb-normal", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"below", Range{Value: 3.6, Low: ptr(4), High: ptr(5.6)}, "rb-low", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"above", Range{Value: 8.1, Low: ptr(4), High: ptr(5.6)}, "rb-high", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"far below within the scale", Range{Value: 0.2, Low: ptr(4), High: ptr(5.6)}, "rb-low", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"on the low limit", Range{Value: 4, Low: ptr(4), High: ptr(5.6)}, "rb-normal", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"limits swapped", Range{Value: 3.6, Low: ptr(5.6), High: ptr(4)}, "rb-low", []string{"rb-low", "rb-normal", "rb-high"}, []string{"4.0", "5.6"}},
		{"negative range", Range{Value: -7, Low: ptr(-2), High: ptr(2)}, "rb-low", []string{"rb-low", "rb-normal", "rb-high"}, []string{"-2", "2"}},
		{"upper limit only, inside", Range{Value: 80, High: ptr(100)}, "rb-normal", []string{"rb-normal", "rb-high"}, []string{"100"}},
		{"upper limit only, above", Range{Value: 160, High: ptr(100)}, "rb-high", []string{"rb-normal", "rb-high"}, []string{"100"}},
		{"lower limit only, inside", Range{Value: 95, Low: ptr(60)}, "rb-normal", []string{"rb-low", "rb-normal"}, []string{"60"}},
		{"lower limit only, below", Range{Value: 45, Low: ptr(60)}, "rb-low", []string{"rb-low", "rb-normal"}, []string{"60"}},
		{"infinite limit is absent", Range{Value: 45, Low: ptr(60), High: ptr(math.Inf(1))}, "rb-low", []string{"rb-low", "rb-normal"}, []string{"60"}},
		{"limits equal", Range{Value: 1.5, Low: ptr(1), High: ptr(1)}, "rb-high", []string{"rb-low", "rb-normal", "rb-high"}, []string{"1", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := parseSVG(t, RangeBar("r", tt.r))
			checkCommon(t, root, "r", strconv.FormatFloat(tt.r.Value, 'f', -1, 64), "")
			var zones []string
			for _, z := range root.byClass("rb-zone") {
				zones = append(zones, strings.TrimPrefix(z.attr["class"], "rb-zone "))
			}
			if strings.Join(zones, " ") != strings.Join(tt.zones, " ") {
				t.Errorf("zones %v, want %v", zones, tt.zones)
			}
			if got := zoneOf(t, root, markerX(t, root)); got != tt.zone {
				t.Errorf("marker in %s, want %s", got, tt.zone)
			}
			if got := root.texts("rb-limit-text"); strings.Join(got, " ") != strings.Join(tt.limitText, " ") {
				t.Errorf("limits written %q, want %q", got, tt.limitText)
			}
			// The zones tile the bar from end to end.
			x := barX0
			for _, z := range root.byClass("rb-zone") {
				if math.Abs(z.f(t, "x")-x) > 0.011 {
					t.Errorf("zone %s starts at %v, want %v", z.attr["class"], z.f(t, "x"), x)
				}
				x = z.f(t, "x") + z.f(t, "width")
			}
			if math.Abs(x-barX1) > 0.011 {
				t.Errorf("zones end at %v, want %v", x, barX1)
			}
		})
	}
}

// The marker sits on a linear scale: the usual range's limits and the
// value keep their proportions.
func TestRangeBarLinear(t *testing.T) {
	root := parseSVG(t, RangeBar("r", Range{Value: 5.2, Low: ptr(4), High: ptr(5.6)}))
	var limits []float64
	for _, l := range root.byClass("rb-limit") {
		limits = append(limits, l.f(t, "x1"))
	}
	if len(limits) != 2 {
		t.Fatalf("%d limit lines, want 2", len(limits))
	}
	got := (markerX(t, root) - limits[0]) / (limits[1] - limits[0])
	if want := (5.2 - 4) / (5.6 - 4); math.Abs(got-want) > 0.01 {
		t.Errorf("marker at %.3f of the usual range, want %.3f", got, want)
	}
}

func TestRangeBarOffScale(t *testing.T) {
	tests := []struct {
		name   string
		r      Range
		end    float64
		anchor string
	}{
		{"far above", hba1c(42), barX1, "end"},
		{"far above an upper limit", Range{Value: 2.5, High: ptr(0.04), Unit: "ng/mL"}, barX1, "end"},
		{"far below a negative range", Range{Value: -100, Low: ptr(-2), High: ptr(2), Unit: "mmol/L"}, barX0, "start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.r.ValueLabel
			if want == "" {
				want = strconv.FormatFloat(tt.r.Value, 'f', -1, 64) + " " + tt.r.Unit
			}
			title := tt.r.Title
			if title == "" {
				title = want
			}
			root := parseSVG(t, RangeBar("r", tt.r))
			checkCommon(t, root, "r", title, tt.r.Desc)
			if tri := root.all(func(n *node) bool { return n.name == "polygon" && n.hasClass("rb-marker") }); len(tri) != 0 {
				t.Errorf("a triangle marker for a value off the scale")
			}
			off := root.one(t, "rb-offscale")
			if !off.hasClass("rb-marker") || off.name != "path" {
				t.Errorf("off-scale marker <%s class=%q>", off.name, off.attr["class"])
			}
			xs := pathXs(t, off.attr["d"])
			nearest := slicesMin(xs)
			if tt.end == barX1 {
				nearest = slicesMax(xs)
			}
			if nearest != tt.end {
				t.Errorf("chevron reaches %v, want the bar's end %v (d=%q)", nearest, tt.end, off.attr["d"])
			}
			v := root.one(t, "rb-value")
			if v.attr["text-anchor"] != tt.anchor {
				t.Errorf("value label anchored %q, want %q", v.attr["text-anchor"], tt.anchor)
			}
			if v.text != want {
				t.Errorf("value label %q, want %q", v.text, want)
			}
		})
	}
}

// pathXs returns the x of every point of a path made of M and L commands.
func pathXs(t *testing.T, d string) []float64 {
	t.Helper()
	var xs []float64
	for _, seg := range strings.FieldsFunc(d, func(r rune) bool { return r == 'M' || r == 'L' }) {
		f := strings.Fields(seg)
		if len(f) != 2 {
			t.Fatalf("path segment %q in %q", seg, d)
		}
		x, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	return xs
}

func slicesMin(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func slicesMax(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func TestRangeBarValueLabelStaysInside(t *testing.T) {
	// Values near either end: the label flips its anchor to stay inside.
	for _, v := range []float64{0, 0.1, 3.3, 4.8, 6.3, 6.39} {
		r := hba1c(v)
		root := parseSVG(t, RangeBar("r", r))
		checkCommon(t, root, "r", r.Title, r.Desc) // checks every text's extent
		x := markerX(t, root)
		label := root.one(t, "rb-value")
		lx := label.f(t, "x")
		switch label.attr["text-anchor"] {
		case "middle":
			if lx != x {
				t.Errorf("value %v: centred label at %v, marker at %v", v, lx, x)
			}
		case "start", "end":
			if math.Abs(lx-x) > textWidth(label.text, fontValue)*1.06 {
				t.Errorf("value %v: label at %v is far from the marker at %v", v, lx, x)
			}
		}
	}
}

func TestRangeBarCritical(t *testing.T) {
	k := Range{Value: 4.6, Low: ptr(3.5), High: ptr(5.1), CriticalLow: ptr(2.5), CriticalHigh: ptr(6.5), Unit: "mmol/L"}
	root := parseSVG(t, RangeBar("k", k))
	checkCommon(t, root, "k", "4.6 mmol/L", "")
	if n := len(root.byClass("rb-critical-limit")); n != 2 {
		t.Errorf("%d critical limit lines, want 2", n)
	}
	crit := root.byClass("rb-critical")
	if len(crit) != 2 {
		t.Fatalf("%d critical zones, want 2", len(crit))
	}
	if zoneOf(t, root, crit[0].f(t, "x")+crit[0].f(t, "width")/2) != "rb-low" ||
		zoneOf(t, root, crit[1].f(t, "x")+crit[1].f(t, "width")/2) != "rb-high" {
		t.Errorf("critical zones not within the low and high zones")
	}
	if got := root.texts("rb-limit-text"); strings.Join(got, " ") != "2.5 3.5 5.1 6.5" {
		t.Errorf("limits written %q", got)
	}

	// Critical limits that are not beyond the reference limits, or have
	// no reference limit on their side, are not drawn.
	for name, r := range map[string]Range{
		"inside the range":     {Value: 4.6, Low: ptr(3.5), High: ptr(5.1), CriticalLow: ptr(4), CriticalHigh: ptr(5)},
		"no limit on its side": {Value: 4.6, High: ptr(5.1), CriticalLow: ptr(2)},
		"NaN":                  {Value: 4.6, Low: ptr(3.5), High: ptr(5.1), CriticalLow: ptr(math.NaN())},
		"too far out":          {Value: 4.6, Low: ptr(3.5), High: ptr(5.1), CriticalHigh: ptr(1e6)},
	} {
		root := parseSVG(t, RangeBar("k", r))
		if n := len(root.byClass("rb-critical")) + len(root.byClass("rb-critical-limit")); n != 0 {
			t.Errorf("%s: %d critical shapes, want none", name, n)
		}
	}
}

func TestRangeBarZoneLabelsUnderTheBar(t *testing.T) {
	r := hba1c(0.5)
	r.LowLabel, r.NormalLabel, r.HighLabel = "Bajo", "Rango habitual", "Alto"
	root := parseSVG(t, RangeBar("es", r))
	checkCommon(t, root, "es", r.Title, r.Desc)
	labels := root.byClass("rb-zone-label")
	if len(labels) != 3 {
		t.Fatalf("%d zone labels, want 3", len(labels))
	}
	for _, l := range labels {
		if l.f(t, "y") != zoneRowY {
			t.Errorf("zone label %q at y=%v, want the row under the bar %v", l.text, l.f(t, "y"), zoneRowY)
		}
	}
	if _, h := root.viewBox(t); h <= zoneRowY {
		t.Errorf("viewBox height %v does not hold the row at %v", h, zoneRowY)
	}
	// In order, and apart.
	for i := 1; i < len(labels); i++ {
		if labels[i].f(t, "x") <= labels[i-1].f(t, "x") {
			t.Errorf("zone labels out of order")
		}
	}

	// The same words fit inside a bar where the usual range is wider.
	r = hba1c(5)
	r.LowLabel, r.NormalLabel, r.HighLabel = "Bajo", "Rango habitual", "Alto"
	root = parseSVG(t, RangeBar("es", r))
	for _, l := range root.byClass("rb-zone-label") {
		if y := l.f(t, "y"); y <= barTop || y >= barTop+barH {
			t.Errorf("zone label %q at y=%v, want inside the bar", l.text, y)
		}
	}
}

func TestRangeBarNames(t *testing.T) {
	base := Range{Value: 5, Low: ptr(4), High: ptr(5.6), Unit: "%"}
	tests := []struct {
		name        string
		title, desc string
		wantTitle   string
		wantDesc    string
	}{
		{"both", "HbA1c", "Your result is in the usual range.", "HbA1c", "Your result is in the usual range."},
		{"title only", "HbA1c", " ", "HbA1c", ""},
		{"desc only", "", "Your result is in the usual range.", "Your result is in the usual range.", ""},
		{"neither", "", "", "5 %", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Title, r.Desc = tt.title, tt.desc
			root := parseSVG(t, RangeBar("n", r))
			checkCommon(t, root, "n", tt.wantTitle, tt.wantDesc)
		})
	}
}

func TestRangeBarEscapes(t *testing.T) {
	evil := `<script>alert("x")</script>' & "`
	r := Range{
		Value: 5, Low: ptr(4), High: ptr(5.6), Unit: evil, Title: evil, Desc: evil + "\x00\x1b",
		LowLabel: evil, NormalLabel: evil, HighLabel: evil, ValueLabel: evil,
	}
	out := RangeBar(`x"><script>`, r)
	for _, bad := range []string{"<script", "style="} {
		if strings.Contains(strings.ToLower(string(out)), bad) {
			t.Errorf("output holds %q:\n%s", bad, out)
		}
	}
	root := parseSVG(t, out)
	checkCommon(t, root, "x___script_", evil, evil)
	if v := root.one(t, "rb-value"); v.text != evil {
		t.Errorf("value label %q, want %q", v.text, evil)
	}
}

func TestRangeBarFormatNumber(t *testing.T) {
	comma := func(v float64) string { return strings.Replace(strconv.FormatFloat(v, 'f', 1, 64), ".", ",", 1) }
	r := Range{Value: 5.3, Low: ptr(4), High: ptr(5.6), Unit: "%", FormatNumber: comma}
	root := parseSVG(t, RangeBar("c", r))
	if got := root.texts("rb-limit-text"); strings.Join(got, " ") != "4,0 5,6" {
		t.Errorf("limits %q", got)
	}
	if got := root.one(t, "rb-value").text; got != "5,3 %" {
		t.Errorf("value label %q", got)
	}
}

func TestRangeBarNothingToDraw(t *testing.T) {
	for name, r := range map[string]Range{
		"no limits":       {Value: 5},
		"infinite limits": {Value: 5, Low: ptr(math.Inf(-1)), High: ptr(math.NaN())},
		"value NaN":       {Value: math.NaN(), Low: ptr(4), High: ptr(5.6)},
		"value infinite":  {Value: math.Inf(1), Low: ptr(4), High: ptr(5.6)},
		"value -infinite": {Value: math.Inf(-1), High: ptr(5.6)},
	} {
		if out := RangeBar("x", r); out != "" {
			t.Errorf("%s: %s, want empty", name, out)
		}
	}
}

// Extreme numbers still give a drawing with finite coordinates.
func TestRangeBarExtremes(t *testing.T) {
	for name, r := range map[string]Range{
		"huge range":           {Value: 0, Low: ptr(-math.MaxFloat64), High: ptr(math.MaxFloat64)},
		"huge value":           {Value: math.MaxFloat64, Low: ptr(4), High: ptr(5.6)},
		"tiny range":           {Value: 5e-324, Low: ptr(0), High: ptr(1e-323)},
		"upper limit 0":        {Value: 0, High: ptr(0)},
		"huge one-sided range": {Value: -math.MaxFloat64, Low: ptr(math.MaxFloat64)},
	} {
		t.Run(name, func(t *testing.T) {
			root := parseSVG(t, RangeBar("x", r))
			if n := len(root.byClass("rb-marker")); n == 0 {
				t.Errorf("no marker")
			}
			for _, n := range root.all(func(*node) bool { return true }) {
				for k, v := range n.attr {
					if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
						t.Errorf("<%s %s=%q>", n.name, k, v)
					}
				}
			}
		})
	}
}
