package interpret

import "strings"

// unitAliases lists spellings that denote exactly the same unit whatever the
// test, each group led by the UCUM form careloop's table uses. Comparison is
// case-insensitive (UCUM's "dL" and "dl" are both decilitres). Only
// identities belong here: a per-test equivalence such as mEq/L = mmol/L for
// a monovalent ion goes in the table's also_units column instead.
var unitAliases = [][]string{
	{"10*3/uL", "10^3/uL", "10*3/µL", "10^3/µL", "K/uL", "K/µL", "x10E3/uL", "thou/uL",
		"10*3/mm3", "10^3/mm3", "10*9/L", "10^9/L", "x10E9/L", "G/L"},
	{"10*6/uL", "10^6/uL", "10*6/µL", "10^6/µL", "M/uL", "M/µL", "x10E6/uL", "mill/uL",
		"10*6/mm3", "10^6/mm3", "10*12/L", "10^12/L", "x10E12/L", "T/L"},
	{"U/L", "IU/L", "[IU]/L"},
	{"m[IU]/L", "mIU/L", "u[IU]/mL", "uIU/mL", "µ[IU]/mL", "µIU/mL"},
	{"mL/min/{1.73_m2}", "mL/min/1.73m2", "mL/min/1.73_m2", "mL/min/{1.73m2}", "mL/min/1.73 m2"},
	{"fL", "um3", "µm3"},
	{"ng/L", "pg/mL"},
	{"ng/mL", "ug/L", "µg/L"},
	{"mg/dL", "mg%"},
}

// canonicalUnit returns the table's spelling of unit u when u is a known
// alias, or u itself. It does not allocate.
func canonicalUnit(u string) string {
	u = strings.TrimSpace(u)
	for _, group := range unitAliases {
		for _, a := range group {
			if strings.EqualFold(u, a) {
				return group[0]
			}
		}
	}
	return u
}

// isDimensionless reports whether a unit has no dimension, so that a result
// sent without any unit can be compared with it.
func isDimensionless(u string) bool {
	return u == "1" || u == "[pH]" || (len(u) > 2 && u[0] == '{' && u[len(u)-1] == '}')
}

// sameUnit reports whether two unit strings mean the same unit.
func sameUnit(a, b string) bool {
	return strings.EqualFold(canonicalUnit(a), canonicalUnit(b))
}

// unitMatches reports whether a result's unit (its UCUM code and its display
// text, either possibly empty) is the row's unit.
func (r *row) unitMatches(code, text string) bool {
	if code == "" && text == "" {
		return r.dimensionless
	}
	for _, u := range [2]string{code, text} {
		if u == "" {
			continue
		}
		if strings.EqualFold(u, r.unit) {
			return true // the common case, without the alias scan
		}
		c := canonicalUnit(u)
		if strings.EqualFold(c, r.canonUnit) {
			return true
		}
		for _, a := range r.alsoUnits {
			if strings.EqualFold(c, a) {
				return true
			}
		}
	}
	return false
}
