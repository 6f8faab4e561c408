package db

import (
	"strconv"
	"strings"
)

// AppendPlaceholders writes to b the parenthesised placeholders of n
// arguments, the first of which is argument from+1 of the statement:
// "(?, ?, ?)" on SQLite, "($3, $4, $5)" on PostgreSQL. Anonymous
// parameters on SQLite are bound in order; the driver looks numbered ones
// up by name one at a time, which costs time quadratic in their number in
// the multi-row statements this serves.
func (d Dialect) AppendPlaceholders(b *strings.Builder, from, n int) {
	b.WriteByte('(')
	for k := range n {
		if k > 0 {
			b.WriteString(", ")
		}
		if d == SQLite {
			b.WriteByte('?')
		} else {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(from + k + 1))
		}
	}
	b.WriteByte(')')
}

// Placeholders returns what AppendPlaceholders writes.
func (d Dialect) Placeholders(from, n int) string {
	var b strings.Builder
	d.AppendPlaceholders(&b, from, n)
	return b.String()
}
