package portal

import (
	"strconv"
	"time"

	"github.com/careloop/careloop/internal/platform/i18n"
)

// dates writes times in the reader's language and time zone: the words of
// months and days come from the catalog ("month.1", "weekday.0"), the order
// of the parts from its patterns ("date.long", "date.short", "date.time").
type dates struct {
	l   *i18n.Localizer
	loc *time.Location
}

func (d dates) parts(t time.Time) []any {
	t = t.In(d.loc)
	return []any{"Weekday", d.l.T("weekday." + strconv.Itoa(int(t.Weekday()))), "Day", t.Day(),
		"Month", d.l.T("month." + strconv.Itoa(int(t.Month()))), "Year", t.Year(), "Time", t.Format("15:04")}
}

// Long is "Tuesday 24 November 2026".
func (d dates) Long(t time.Time) string { return d.l.T("date.long", d.parts(t)...) }

// Short is "24 Nov 2026".
func (d dates) Short(t time.Time) string {
	t = t.In(d.loc)
	return d.l.T("date.short", "Day", t.Day(), "Month", d.l.T("mon."+strconv.Itoa(int(t.Month()))), "Year", t.Year())
}

// MonthYear is "Nov 2026", for chart axes.
func (d dates) MonthYear(t time.Time) string {
	t = t.In(d.loc)
	return d.l.T("date.month", "Month", d.l.T("mon."+strconv.Itoa(int(t.Month()))), "Year", t.Year())
}

// WithTime is "Tuesday 24 November 2026 at 09:20".
func (d dates) WithTime(t time.Time) string { return d.l.T("date.time", d.parts(t)...) }

// Clock is "09:20".
func (d dates) Clock(t time.Time) string { return t.In(d.loc).Format("15:04") }

// ISO is the machine-readable time for <time datetime>.
func (d dates) ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Day is the date of t in the reader's zone, "2006-01-02", for grouping.
func (d dates) Day(t time.Time) string { return t.In(d.loc).Format("2006-01-02") }
