package chart

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// node is an element of a parsed chart.
type node struct {
	name     string
	attr     map[string]string
	text     string // the element's own character data
	children []*node
}

// parseSVG parses a chart with a strict XML decoder and returns its root,
// failing the test when the markup is not one well-formed svg element.
func parseSVG(t testing.TB, h template.HTML) *node {
	t.Helper()
	root, err := decodeSVG(string(h))
	if err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, h)
	}
	return root
}

// decodeSVG parses s into a tree; it must hold exactly one root element,
// an svg.
func decodeSVG(s string) (*node, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var root *node
	var stack []*node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				name := a.Name.Local
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					name = a.Name.Space + ":" + name
				}
				n.attr[name] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root != nil {
				return nil, fmt.Errorf("a second root element <%s>", n.name)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			} else if strings.TrimSpace(string(tok)) != "" {
				return nil, fmt.Errorf("text outside the root: %q", tok)
			}
		case xml.ProcInst, xml.Directive:
			return nil, fmt.Errorf("unexpected %T", tok)
		}
	}
	if root == nil || root.name != "svg" {
		return nil, fmt.Errorf("no svg root element")
	}
	return root, nil
}

// all returns the elements under n (n included) that match.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		if match(m) {
			out = append(out, m)
		}
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// hasClass reports whether n's class list holds class.
func (n *node) hasClass(class string) bool {
	return strings.Contains(" "+n.attr["class"]+" ", " "+class+" ")
}

// byClass returns the elements with the class.
func (n *node) byClass(class string) []*node {
	return n.all(func(m *node) bool { return m.hasClass(class) })
}

// byName returns the elements with the name.
func (n *node) byName(name string) []*node {
	return n.all(func(m *node) bool { return m.name == name })
}

// one returns the only element with the class.
func (n *node) one(t testing.TB, class string) *node {
	t.Helper()
	ns := n.byClass(class)
	if len(ns) != 1 {
		t.Fatalf("%d elements of class %s, want 1", len(ns), class)
	}
	return ns[0]
}

// f returns the attribute as a number.
func (n *node) f(t testing.TB, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.name, name, n.attr[name], err)
	}
	return v
}

// points returns the coordinates of a points attribute.
func (n *node) points(t testing.TB) [][2]float64 {
	t.Helper()
	var ps [][2]float64
	for _, pair := range strings.Fields(n.attr["points"]) {
		x, y, ok := strings.Cut(pair, ",")
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad point %q in %q", pair, n.attr["points"])
		}
		ps = append(ps, [2]float64{fx, fy})
	}
	return ps
}

// texts returns the character data of the elements with the class.
func (n *node) texts(class string) []string {
	var out []string
	for _, m := range n.byClass(class) {
		out = append(out, m.text)
	}
	return out
}

// viewBox returns the width and height of the root's viewBox.
func (n *node) viewBox(t testing.TB) (w, h float64) {
	t.Helper()
	f := strings.Fields(n.attr["viewBox"])
	if len(f) != 4 || f[0] != "0" || f[1] != "0" {
		t.Fatalf("viewBox %q", n.attr["viewBox"])
	}
	w, _ = strconv.ParseFloat(f[2], 64)
	h, _ = strconv.ParseFloat(f[3], 64)
	return w, h
}

// checkCommon checks what every chart must have: an accessible name from
// its title (and desc), the CSP and scaling rules, readable text, and
// every text inside the viewBox.
func checkCommon(t testing.TB, root *node, prefix, title, desc string) {
	t.Helper()
	if root.attr["xmlns"] != "http://www.w3.org/2000/svg" {
		t.Errorf("xmlns = %q", root.attr["xmlns"])
	}
	if root.attr["role"] != "img" {
		t.Errorf("role = %q, want img", root.attr["role"])
	}
	if root.attr["width"] != "100%" || root.attr["height"] != "" {
		t.Errorf("width %q height %q, want 100%% and none", root.attr["width"], root.attr["height"])
	}
	if !root.hasClass("chart") {
		t.Errorf("class %q lacks chart", root.attr["class"])
	}
	wantIDs := prefix + "-title"
	if desc != "" {
		wantIDs += " " + prefix + "-desc"
	}
	if got := root.attr["aria-labelledby"]; got != wantIDs {
		t.Errorf("aria-labelledby = %q, want %q", got, wantIDs)
	}
	if len(root.children) == 0 || root.children[0].name != "title" {
		t.Fatalf("the first child is not the title")
	}
	if tl := root.children[0]; tl.attr["id"] != prefix+"-title" || tl.text != title {
		t.Errorf("title id %q text %q, want %q %q", tl.attr["id"], tl.text, prefix+"-title", title)
	}
	descs := root.byName("desc")
	switch {
	case desc == "" && len(descs) != 0:
		t.Errorf("a desc %q where none is wanted", descs[0].text)
	case desc != "" && (len(descs) != 1 || descs[0].attr["id"] != prefix+"-desc" || descs[0].text != desc):
		t.Errorf("desc elements %d, want one with id %q and text %q", len(descs), prefix+"-desc", desc)
	}
	styled := root.all(func(m *node) bool { _, ok := m.attr["style"]; return ok || m.name == "style" || m.name == "script" })
	if len(styled) > 0 {
		t.Errorf("a style or script: <%s>", styled[0].name)
	}
	w, h := root.viewBox(t)
	rootSize := root.f(t, "font-size")
	for _, tx := range root.byName("text") {
		size := rootSize
		if _, ok := tx.attr["font-size"]; ok {
			size = tx.f(t, "font-size")
		}
		if size < 12 {
			t.Errorf("text %q in %v user units, want 12 or more", tx.text, size)
		}
		if tx.attr["fill"] != colInk && tx.attr["fill"] != colMuted {
			t.Errorf("text %q in %s, want ink or muted", tx.text, tx.attr["fill"])
		}
		x, y := tx.f(t, "x"), tx.f(t, "y")
		width := textWidth(tx.text, size)
		left := x - width/2
		switch tx.attr["text-anchor"] {
		case "start":
			left = x
		case "end":
			left = x - width
		}
		if left < 0 || left+width > w || y-size < 0 || y > h {
			t.Errorf("text %q at %v..%v, %v is outside the viewBox %vx%v", tx.text, left, left+width, y, w, h)
		}
	}
}

func TestColoursContrast(t *testing.T) {
	tests := []struct {
		name   string
		fg, bg string
		min    float64
	}{
		{"ink on white", colInk, colWhite, 4.5},
		{"muted on white", colMuted, colWhite, 4.5},
		{"ink on the usual range", colInk, colNormal, 4.5},
		{"ink on low or high", colInk, colOut, 4.5},
		{"ink on critical", colInk, colCritical, 4.5},
		{"muted on the band", colMuted, colNormal, 4.5},
		{"the marker on the usual range", colInk, colNormal, 3},
		{"the trend line on white", colLine, colWhite, 3},
		{"the trend line on the band", colLine, colNormal, 3},
		{"a flagged point on white", colFlagged, colWhite, 3},
		{"a flagged point on the band", colFlagged, colNormal, 3},
		{"outlines on white", colMuted, colWhite, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := contrast(t, tt.fg, tt.bg); c < tt.min {
				t.Errorf("contrast %s on %s = %.2f, want at least %v", tt.fg, tt.bg, c, tt.min)
			}
		})
	}
}

// contrast returns the WCAG 2.1 contrast ratio of two #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// luminance returns the WCAG relative luminance of #rrggbb.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q", hex)
	}
	var l float64
	for i, weight := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += weight * c
	}
	return l
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"tab\tnew\nline\rcr", "tab\tnew\nline\rcr"},
		{"nul\x00bell\x07esc\x1b", "nulbellesc"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"\uFFFE\uFFFF", ""},
		{"😀 é 漢", "😀 é 漢"},
	}
	for _, tt := range tests {
		if got := clean(tt.in); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"result-1", "result-1"},
		{"hba1c_2026", "hba1c_2026"},
		{"a b\"c<d", "a_b_c_d"},
		{"1st", "c1st"},
		{"", "c"},
		{"-x", "c-x"},
		{"é", "c_"},
	}
	for _, tt := range tests {
		if got := cleanID(tt.in); got != tt.want {
			t.Errorf("cleanID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPlace(t *testing.T) {
	tests := []struct {
		name string
		ls   []label
		want []float64
		ok   bool
	}{
		{"apart stay put", []label{{"", 50, 20}, {"", 150, 20}}, []float64{50, 150}, true},
		{"near the left edge move in", []label{{"", 5, 20}}, []float64{12}, true},
		{"near the right edge move in", []label{{"", 315, 20}}, []float64{308}, true},
		{"overlapping move apart", []label{{"", 100, 20}, {"", 105, 20}}, []float64{100, 126}, true},
		{"overlapping at the right edge move left", []label{{"", 300, 20}, {"", 305, 20}}, []float64{282, 308}, true},
		{"too wide for the row", []label{{"", 100, 200}, {"", 200, 200}}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := place(tt.ls, 2, 318, 6)
			if ok != tt.ok || len(got) != len(tt.want) {
				t.Fatalf("place = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Errorf("place = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestFormatFixed(t *testing.T) {
	tests := []struct {
		v    float64
		dec  int
		want string
	}{
		{4, 1, "4.0"},
		{5.6, 1, "5.6"},
		{0.25, 2, "0.25"},
		{-0.0001, 1, "0.0"},
		{-2, 0, "-2"},
		{1e300, 0, "1e+300"},
		{1e-9, 2, "1e-09"},
	}
	for _, tt := range tests {
		if got := formatFixed(tt.v, tt.dec); got != tt.want {
			t.Errorf("formatFixed(%v, %d) = %q, want %q", tt.v, tt.dec, got, tt.want)
		}
	}
}

func TestCoord(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{12.345, "12.35"}, {10, "10"}, {-0.001, "0"}, {math.NaN(), "0"}, {math.Inf(1), "0"}, {-3.5, "-3.5"},
	}
	for _, tt := range tests {
		if got := coord(tt.v); got != tt.want {
			t.Errorf("coord(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestDecimals(t *testing.T) {
	tests := []struct {
		v    float64
		want int
	}{
		{4, 0}, {5.6, 1}, {0.1 + 0.2, 1}, {0.025, 3}, {-12.75, 2}, {1.0 / 3, 6}, {1e300, 0}, {0, 0},
	}
	for _, tt := range tests {
		if got := decimals(tt.v); got != tt.want {
			t.Errorf("decimals(%v) = %d, want %d", tt.v, got, tt.want)
		}
	}
}
