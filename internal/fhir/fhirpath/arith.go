package fhirpath

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// arith is + - * / div mod on numbers, + and & on strings. Each operand
// must be a single item; an empty operand gives empty, except for &, which
// takes it as the empty string. Integer overflow and division by zero give
// empty.
type arith struct {
	op   string
	l, r evaluator
}

func (e *arith) eval(c *evalCtx, focus, dst []Node) []Node {
	l := e.l.eval(c, focus, c.get())
	r := e.r.eval(c, focus, c.get())
	n, ok := e.apply(l, r)
	c.put(l)
	c.put(r)
	if ok {
		dst = append(dst, n)
	}
	return dst
}

func (e *arith) apply(l, r []Node) (Node, bool) {
	if e.op == "&" {
		if len(l) > 1 || len(r) > 1 {
			return Node{}, false
		}
		a, ok1 := concatOperand(l)
		b, ok2 := concatOperand(r)
		if !ok1 || !ok2 {
			return Node{}, false
		}
		return Node{Value: a + b, Type: "string"}, true
	}
	if len(l) != 1 || len(r) != 1 {
		return Node{}, false
	}
	if a, ok := l[0].Value.(string); ok {
		b, ok := r[0].Value.(string)
		if !ok || e.op != "+" {
			return Node{}, false
		}
		return Node{Value: a + b, Type: "string"}, true
	}
	if ai, ok := integer(l[0]); ok {
		if bi, ok := integer(r[0]); ok && e.op != "/" {
			return intArith(e.op, ai, bi)
		}
	}
	a, ok1 := number(l[0].Value)
	b, ok2 := number(r[0].Value)
	if !ok1 || !ok2 {
		return Node{}, false
	}
	var v float64
	switch e.op {
	case "+":
		v = a + b
	case "-":
		v = a - b
	case "*":
		v = a * b
	case "/":
		if b == 0 {
			return Node{}, false
		}
		v = a / b
	case "div":
		if b == 0 {
			return Node{}, false
		}
		v = math.Trunc(a / b)
		return Node{Value: json.Number(strconv.FormatFloat(v, 'f', -1, 64)), Type: "integer"}, true
	case "mod":
		if b == 0 {
			return Node{}, false
		}
		v = math.Mod(a, b)
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return Node{}, false
	}
	return Node{Value: json.Number(strconv.FormatFloat(v, 'f', -1, 64)), Type: "decimal"}, true
}

func intArith(op string, a, b int64) (Node, bool) {
	var v int64
	switch op {
	case "+":
		v = a + b
		if (v > a) != (b > 0) {
			return Node{}, false
		}
	case "-":
		v = a - b
		if (v < a) != (b > 0) {
			return Node{}, false
		}
	case "*":
		if a != 0 && b != 0 {
			v = a * b
			if v/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
				return Node{}, false
			}
		}
	case "div", "mod":
		if b == 0 || (a == math.MinInt64 && b == -1) {
			return Node{}, false
		}
		if op == "div" {
			v = a / b
		} else {
			v = a % b
		}
	}
	return Node{Value: json.Number(strconv.FormatInt(v, 10)), Type: "integer"}, true
}

// integer returns the value of an integer item: a literal or computed
// integer, or a JSON number written without fraction or exponent.
func integer(n Node) (int64, bool) {
	var s string
	switch x := n.Value.(type) {
	case json.Number:
		s = string(x)
	case float64:
		if n.Type == "integer" && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
		return 0, false
	default:
		return 0, false
	}
	if n.Type == "decimal" || strings.ContainsAny(s, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// concatOperand is the text of an operand of &: the empty string for
// empty.
func concatOperand(n []Node) (string, bool) {
	if len(n) == 0 {
		return "", true
	}
	s, ok := n[0].Value.(string)
	return s, ok
}

// A moment is a FHIR date, dateTime or instant, or a time, parsed for
// comparison.
type moment struct {
	t     time.Time // in UTC when zoned
	prec  int       // 1 year, 2 month, 3 day, 4 hour, 5 minute, 6 second
	zoned bool
}

// parseMoment parses a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD,
// YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)) or time (hh:mm:ss[.fff]). It is
// strict: text that is not such a value is not a moment.
func parseMoment(s string) (moment, bool) {
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, len(s) > 0
	}
	var m moment
	year, month, day := 1, 1, 1
	rest := s
	if len(s) >= 8 && s[2] == ':' && s[5] == ':' { // a time
		year = 0
		rest = "T" + s
	} else {
		if len(s) < 4 {
			return m, false
		}
		var ok bool
		if year, ok = num(s[:4]); !ok {
			return m, false
		}
		m.prec, rest = 1, s[4:]
		if len(rest) >= 3 && rest[0] == '-' {
			if month, ok = num(rest[1:3]); !ok || month < 1 || month > 12 {
				return m, false
			}
			m.prec, rest = 2, rest[3:]
		}
		if m.prec == 2 && len(rest) >= 3 && rest[0] == '-' {
			if day, ok = num(rest[1:3]); !ok || day < 1 || day > 31 {
				return m, false
			}
			m.prec, rest = 3, rest[3:]
		}
	}
	hour, minute, sec, nsec := 0, 0, 0, 0
	loc := time.UTC
	if rest != "" {
		if rest[0] != 'T' || len(rest) < 9 || rest[3] != ':' || rest[6] != ':' {
			return m, false
		}
		var ok1, ok2, ok3 bool
		hour, ok1 = num(rest[1:3])
		minute, ok2 = num(rest[4:6])
		sec, ok3 = num(rest[7:9])
		if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 60 {
			return m, false
		}
		m.prec, rest = 6, rest[9:]
		if len(rest) > 1 && rest[0] == '.' {
			i := 1
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			frac := rest[1:i]
			if frac == "" {
				return m, false
			}
			for len(frac) < 9 {
				frac += "0"
			}
			nsec, _ = num(frac[:9])
			rest = rest[i:]
		}
		switch {
		case rest == "Z":
			m.zoned = true
		case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
			h, ok1 := num(rest[1:3])
			mi, ok2 := num(rest[4:6])
			if !ok1 || !ok2 {
				return m, false
			}
			off := (h*60 + mi) * 60
			if rest[0] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
			m.zoned = true
		case rest == "":
		default:
			return m, false
		}
	}
	m.t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC()
	return m, true
}

// compareMoments compares two moments at the precision they share. ok is
// false when the values are equal up to the coarser precision but one is
// more precise (FHIRPath gives empty then), or when only one has a time
// zone.
func compareMoments(a, b moment) (int, bool) {
	if a.zoned != b.zoned && a.prec > 3 && b.prec > 3 {
		return 0, false
	}
	prec := min(a.prec, b.prec)
	ta, tb := truncate(a.t, prec), truncate(b.t, prec)
	switch {
	case ta.Before(tb):
		return -1, true
	case ta.After(tb):
		return 1, true
	case a.prec != b.prec:
		return 0, false
	}
	return 0, true
}

func truncate(t time.Time, prec int) time.Time {
	switch prec {
	case 1:
		return time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	case 2:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case 3:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case 4:
		return t.Truncate(time.Hour)
	case 5:
		return t.Truncate(time.Minute)
	}
	return t
}

// compareQuantities compares two Quantities with the same unit (the same
// code, or no code and the same unit text). Quantities in different units
// are not compared: ok is false.
func compareQuantities(a, b map[string]any) (int, bool) {
	va, ok1 := number(a["value"])
	vb, ok2 := number(b["value"])
	if !ok1 || !ok2 {
		return 0, false
	}
	ca, _ := a["code"].(string)
	cb, _ := b["code"].(string)
	if ca != cb || (ca == "" && a["unit"] != b["unit"]) {
		return 0, false
	}
	if ca != "" && a["system"] != b["system"] {
		return 0, false
	}
	switch {
	case va < vb:
		return -1, true
	case va > vb:
		return 1, true
	}
	return 0, true
}
