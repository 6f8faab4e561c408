package chart

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 30, 0, 0, time.UTC) }

func monthYear(t time.Time) string { return t.Format("Jan 2006") }

// a1cTrend is four HbA1c results over most of a year.
func a1cTrend() Trend {
	return Trend{
		Points: []Point{
			{At: day(2025, 1, 5), Value: 6.1, Label: "5 Jan 2025: 6.1 %", Flagged: true},
			{At: day(2025, 3, 5), Value: 5.4, Label: "5 Mar 2025: 5.4 %"},
			{At: day(2025, 4, 1), Value: 5.2, Label: "1 Apr 2025: 5.2 %"},
			{At: day(2025, 9, 20), Value: 8.1, Label: "20 Sep 2025: 8.1 %", Flagged: true},
		},
		Low: ptr(4), High: ptr(5.6), Unit: "%",
		Title:     "Hemoglobin A1c over time",
		Desc:      "Your results went from 6.1 % in January to 8.1 % in September; the usual range is 4.0 to 5.6 %.",
		DateLabel: monthYear,
	}
}

// marks returns the centre of each point mark, circles and diamonds, in
// document order, and whether each is flagged.
func marks(t *testing.T, root *node) (xy [][2]float64, flagged []bool) {
	t.Helper()
	for _, m := range root.byClass("tc-point") {
		switch m.name {
		case "circle":
			if m.hasClass("tc-flagged") {
				t.Errorf("a flagged point drawn as a circle")
			}
			xy = append(xy, [2]float64{m.f(t, "cx"), m.f(t, "cy")})
			flagged = append(flagged, false)
		case "polygon":
			ps := m.points(t)
			if len(ps) != 4 || ps[0][0] != ps[2][0] || ps[1][1] != ps[3][1] {
				t.Fatalf("flagged mark %q is not a diamond", m.attr["points"])
			}
			if !m.hasClass("tc-flagged") {
				t.Errorf("a diamond without tc-flagged")
			}
			xy = append(xy, [2]float64{ps[0][0], ps[1][1]})
			flagged = append(flagged, true)
		default:
			t.Fatalf("point drawn as <%s>", m.name)
		}
	}
	return xy, flagged
}

// yTicks returns the y tick values written and the y of their grid lines.
func yTicks(t *testing.T, root *node) (values, ys []float64) {
	t.Helper()
	for _, l := range root.byClass("tc-tick-label") {
		v, err := strconv.ParseFloat(l.text, 64)
		if err != nil {
			t.Fatalf("tick label %q: %v", l.text, err)
		}
		values = append(values, v)
	}
	for _, g := range root.byClass("tc-grid") {
		ys = append(ys, g.f(t, "y1"))
	}
	if len(values) != len(ys) {
		t.Fatalf("%d tick labels and %d grid lines", len(values), len(ys))
	}
	for i := 1; i < len(ys); i++ {
		if values[i] <= values[i-1] || ys[i] >= ys[i-1] {
			t.Fatalf("ticks %v at y %v: higher values must be higher up", values, ys)
		}
	}
	return values, ys
}

// yOf returns the y of v on the axis the ticks define.
func yOf(values, ys []float64, v float64) float64 {
	n := len(values) - 1
	return ys[0] + (v-values[0])/(values[n]-values[0])*(ys[n]-ys[0])
}

func TestTrendChart(t *testing.T) {
	tr := a1cTrend()
	root := parseSVG(t, TrendChart("a1c-trend", tr))
	checkCommon(t, root, "a1c-trend", tr.Title, tr.Desc)
	if !root.hasClass("chart-trend") {
		t.Errorf("class %q lacks chart-trend", root.attr["class"])
	}
	if got := root.one(t, "tc-unit").text; got != "%" {
		t.Errorf("unit %q", got)
	}

	values, ys := yTicks(t, root)
	if !slices.Equal(values, []float64{4, 6, 8, 10}) {
		t.Errorf("y ticks %v, want 4 6 8 10", values)
	}
	xy, flagged := marks(t, root)
	if !slices.Equal(flagged, []bool{true, false, false, true}) {
		t.Errorf("flagged %v", flagged)
	}
	for i, p := range tr.Points {
		if y := yOf(values, ys, p.Value); math.Abs(xy[i][1]-y) > 0.02 {
			t.Errorf("point %d at y=%v, want %v", i, xy[i][1], y)
		}
	}
	// The line goes through the marks, in time order.
	line := root.one(t, "tc-line").points(t)
	if len(line) != len(xy) {
		t.Fatalf("line through %d points, want %d", len(line), len(xy))
	}
	for i := range line {
		if line[i] != xy[i] {
			t.Errorf("line point %d %v, mark at %v", i, line[i], xy[i])
		}
	}
	// Spaced by time, not by index.
	span := tr.Points[3].At.Sub(tr.Points[0].At).Seconds()
	for i, p := range tr.Points {
		want := xy[0][0] + p.At.Sub(tr.Points[0].At).Seconds()/span*(xy[3][0]-xy[0][0])
		if math.Abs(xy[i][0]-want) > 0.02 {
			t.Errorf("point %d at x=%v, want %v", i, xy[i][0], want)
		}
	}
	// The band spans the usual range.
	band := root.one(t, "tc-band")
	top, bottom := band.f(t, "y"), band.f(t, "y")+band.f(t, "height")
	if math.Abs(top-yOf(values, ys, 5.6)) > 0.02 || math.Abs(bottom-yOf(values, ys, 4)) > 0.02 {
		t.Errorf("band from y=%v to %v, want %v to %v", top, bottom, yOf(values, ys, 5.6), yOf(values, ys, 4))
	}
	// Dates: first, middle and last.
	if got := root.texts("tc-date-label"); strings.Join(got, "|") != "Jan 2025|May 2025|Sep 2025" {
		t.Errorf("dates %q", got)
	}
	// Each mark says what it is.
	for _, m := range root.byClass("tc-point") {
		if len(m.children) != 1 || m.children[0].name != "title" || !strings.Contains(m.children[0].text, "%") {
			t.Errorf("mark without its label")
		}
	}
}

func TestTrendChartOrderDoesNotMatter(t *testing.T) {
	tr := a1cTrend()
	want := TrendChart("t", tr)
	tr.Points = []Point{tr.Points[2], tr.Points[0], tr.Points[3], tr.Points[1]}
	if got := TrendChart("t", tr); got != want {
		t.Errorf("points out of order draw another chart:\n%s\n%s", got, want)
	}
}

func TestTrendChartOnePoint(t *testing.T) {
	tr := a1cTrend()
	tr.Points = tr.Points[3:]
	tr.Desc = ""
	root := parseSVG(t, TrendChart("one", tr))
	checkCommon(t, root, "one", tr.Title, "20 Sep 2025: 8.1 %")
	xy, _ := marks(t, root)
	if len(xy) != 1 {
		t.Fatalf("%d marks, want 1", len(xy))
	}
	axis := root.byClass("tc-axis")[0]
	if mid := (axis.f(t, "x1") + padLeft + axis.f(t, "x2") - padRight) / 2; math.Abs(xy[0][0]-mid) > 0.02 {
		t.Errorf("single point at x=%v, want the middle %v", xy[0][0], mid)
	}
	if n := len(root.byClass("tc-line")); n != 0 {
		t.Errorf("%d lines for one point", n)
	}
	if got := root.texts("tc-date-label"); strings.Join(got, "|") != "Sep 2025" {
		t.Errorf("dates %q", got)
	}
}

func TestTrendChartSameMonth(t *testing.T) {
	tr := Trend{Points: []Point{{At: day(2025, 3, 1), Value: 4}, {At: day(2025, 3, 20), Value: 5}}, DateLabel: monthYear}
	root := parseSVG(t, TrendChart("m", tr))
	checkCommon(t, root, "m", "4, 5", "")
	if got := root.texts("tc-date-label"); strings.Join(got, "|") != "Mar 2025" {
		t.Errorf("dates %q", got)
	}
	if n := len(root.byClass("tc-band")); n != 0 {
		t.Errorf("a band without a range")
	}
}

func TestTrendChartManyPoints(t *testing.T) {
	var tr Trend
	start := day(2020, 1, 1)
	for i := range 200 {
		v := 100 + 30*math.Sin(float64(i)/9)
		tr.Points = append(tr.Points, Point{At: start.AddDate(0, 0, 7*i), Value: v, Flagged: v > 125})
	}
	tr.Low, tr.High, tr.Title, tr.Unit = ptr(70), ptr(125), "Glucose", "mg/dL"
	root := parseSVG(t, TrendChart("g", tr))
	checkCommon(t, root, "g", "Glucose", "")
	// Too close for a mark each: the flagged ones alone have theirs, on
	// the line.
	line := root.one(t, "tc-line").points(t)
	if len(line) != 200 {
		t.Fatalf("line through %d points", len(line))
	}
	var want [][2]float64
	for i, p := range tr.Points {
		if p.Flagged {
			want = append(want, line[i])
		}
		if i > 0 && line[i][0] <= line[i-1][0] {
			t.Fatalf("line not left to right at %d", i)
		}
	}
	xy, flagged := marks(t, root)
	if len(want) == 0 || !slices.Equal(xy, want) || slices.Contains(flagged, false) {
		t.Errorf("marks %v (flagged %v), want diamonds at %v", xy, flagged, want)
	}

	// Fewer points, each with its mark.
	tr.Points = tr.Points[:30]
	xy, flagged = marks(t, parseSVG(t, TrendChart("g", tr)))
	if len(xy) != 30 {
		t.Fatalf("%d marks, want 30", len(xy))
	}
	for i, p := range tr.Points {
		if flagged[i] != p.Flagged {
			t.Errorf("mark %d flagged %v, want %v", i, flagged[i], p.Flagged)
		}
	}
	values, _ := yTicks(t, root)
	if len(values) < 3 || len(values) > 5 || values[0] > 70 || values[len(values)-1] < 130 {
		t.Errorf("y ticks %v do not hold the data and the band", values)
	}
	if got := root.texts("tc-date-label"); len(got) != 3 || got[0] != "2020-01-01" {
		t.Errorf("dates %q", got)
	}
}

func TestTrendChartOneSidedBand(t *testing.T) {
	tests := []struct {
		name      string
		low, high *float64
	}{
		{"upper limit", nil, ptr(100)},
		{"lower limit", ptr(60), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Trend{Points: []Point{{At: day(2025, 1, 1), Value: 80}, {At: day(2025, 6, 1), Value: 130}}, Low: tt.low, High: tt.high}
			root := parseSVG(t, TrendChart("b", tr))
			values, ys := yTicks(t, root)
			band := root.one(t, "tc-band")
			top, bottom := band.f(t, "y"), band.f(t, "y")+band.f(t, "height")
			wantTop, wantBottom := ys[len(ys)-1], ys[0] // the plot's top and bottom
			if tt.low != nil {
				wantBottom = yOf(values, ys, *tt.low)
			}
			if tt.high != nil {
				wantTop = yOf(values, ys, *tt.high)
			}
			if math.Abs(top-wantTop) > 0.02 || math.Abs(bottom-wantBottom) > 0.02 {
				t.Errorf("band from y=%v to %v, want %v to %v", top, bottom, wantTop, wantBottom)
			}
		})
	}
}

func TestTrendChartNothingToDraw(t *testing.T) {
	for name, tr := range map[string]Trend{
		"no points":    {Title: "x"},
		"only NaN":     {Points: []Point{{At: day(2025, 1, 1), Value: math.NaN()}}},
		"only infinte": {Points: []Point{{Value: math.Inf(1)}, {Value: math.Inf(-1)}}},
	} {
		if out := TrendChart("x", tr); out != "" {
			t.Errorf("%s: %s, want empty", name, out)
		}
	}
	// A point without a finite value is left out, the rest drawn.
	tr := a1cTrend()
	tr.Points[1].Value = math.NaN()
	xy, _ := marks(t, parseSVG(t, TrendChart("x", tr)))
	if len(xy) != 3 {
		t.Errorf("%d marks, want 3", len(xy))
	}
}

func TestTrendChartFormatNumber(t *testing.T) {
	tr := a1cTrend()
	tr.Points = []Point{{At: day(2025, 1, 1), Value: 0.5}, {At: day(2025, 2, 1), Value: 1.2}}
	tr.Low, tr.High = nil, nil
	tr.FormatNumber = func(v float64) string { return strings.Replace(strconv.FormatFloat(v, 'f', 2, 64), ".", ",", 1) }
	root := parseSVG(t, TrendChart("c", tr))
	if got := root.texts("tc-tick-label"); strings.Join(got, " ") != "0,40 0,60 0,80 1,00 1,20" {
		t.Errorf("ticks %q", got)
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []float64
		dec    int
	}{
		{0, 1, []float64{0, 0.25, 0.5, 0.75, 1}, 2},
		{4, 7.5, []float64{4, 5, 6, 7, 8}, 0},
		{4, 8.1, []float64{4, 6, 8, 10}, 0},
		{0, 100, []float64{0, 25, 50, 75, 100}, 0},
		{3.5, 5.1, []float64{3.5, 4, 4.5, 5, 5.5}, 1},
		{5, 5, []float64{4.5, 4.75, 5, 5.25, 5.5}, 2},
		{0, 0, []float64{-1, -0.5, 0, 0.5, 1}, 1},
		{-3, 7, []float64{-5, 0, 5, 10}, 0},
		{7, -3, []float64{-5, 0, 5, 10}, 0},
		{70, 180, []float64{50, 100, 150, 200}, 0},
		{0.012, 0.031, []float64{0.01, 0.02, 0.03, 0.04}, 2},
		{1200, 5400, []float64{0, 2000, 4000, 6000}, 0},
		{99.5, 100.5, []float64{99.5, 99.75, 100, 100.25, 100.5}, 2},
	}
	for _, tt := range tests {
		got, dec := niceTicks(tt.lo, tt.hi)
		if !slices.Equal(got, tt.want) || dec != tt.dec {
			t.Errorf("niceTicks(%v, %v) = %v, %d; want %v, %d", tt.lo, tt.hi, got, dec, tt.want, tt.dec)
		}
	}
}

// TestNiceTicksProperties checks the contract on many ranges of every
// magnitude.
func TestNiceTicksProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		mag := math.Pow(10, float64(r.IntN(24)-12))
		lo := (r.Float64()*2 - 1) * mag
		hi := lo + r.Float64()*mag*math.Pow(10, float64(r.IntN(4)-2))
		ticks, dec := niceTicks(lo, hi)
		if len(ticks) < 3 || len(ticks) > 5 {
			t.Fatalf("niceTicks(%v, %v) = %v: %d ticks", lo, hi, ticks, len(ticks))
		}
		if ticks[0] > lo || ticks[len(ticks)-1] < hi {
			t.Fatalf("niceTicks(%v, %v) = %v: does not cover", lo, hi, ticks)
		}
		step := ticks[1] - ticks[0]
		for i := 2; i < len(ticks); i++ {
			if d := ticks[i] - ticks[i-1]; math.Abs(d-step) > step*1e-6 {
				t.Fatalf("niceTicks(%v, %v) = %v: uneven steps", lo, hi, ticks)
			}
		}
		m := step / math.Pow(10, math.Floor(math.Log10(step)+1e-9))
		if !slices.ContainsFunc([]float64{1, 2, 2.5, 5}, func(n float64) bool { return math.Abs(m-n) < 1e-6 }) {
			t.Fatalf("niceTicks(%v, %v) = %v: step %v is not round", lo, hi, ticks, step)
		}
		// The labels tell the ticks apart and say each one exactly.
		seen := map[string]bool{}
		for _, v := range ticks {
			s := strconv.FormatFloat(v, 'f', dec, 64)
			if back, _ := strconv.ParseFloat(s, 64); seen[s] || math.Abs(back-v) > step*1e-6 {
				t.Fatalf("niceTicks(%v, %v) = %v, %d decimals: label %q", lo, hi, ticks, dec, s)
			}
			seen[s] = true
		}
	}
}
