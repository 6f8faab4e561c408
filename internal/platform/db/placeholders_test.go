package db

import "testing"

func TestPlaceholders(t *testing.T) {
	for _, c := range []struct {
		d       Dialect
		from, n int
		want    string
	}{
		{SQLite, 0, 1, "(?)"},
		{SQLite, 7, 3, "(?, ?, ?)"},
		{Postgres, 0, 1, "($1)"},
		{Postgres, 2, 3, "($3, $4, $5)"},
		{Postgres, 0, 0, "()"},
	} {
		if got := c.d.Placeholders(c.from, c.n); got != c.want {
			t.Errorf("%s.Placeholders(%d, %d) = %q, want %q", c.d, c.from, c.n, got, c.want)
		}
	}
}
