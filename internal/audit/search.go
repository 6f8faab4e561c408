package audit

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Query selects entries of one organisation. Empty fields select all.
type Query struct {
	OrgID   string
	Patient string // "Patient/id"
	Subject string // the agent's user, as recorded
	// From (inclusive) and To (exclusive) bound the recorded time.
	From, To time.Time
	Action   Action
	Outcome  *Outcome
	// Limit bounds the result (default 100, at most 1000).
	Limit int
}

// Found is a search result: an entry and its leaf index.
type Found struct {
	Index uint64
	Entry *Entry
}

// MaxResults bounds the entries one search returns.
const MaxResults = 1000

// Search returns the sequenced entries that match q, newest first. Entries
// are decoded from their leaf bytes; entries not yet sequenced (usually
// under a second old) are not found.
func (l *Log) Search(ctx context.Context, q Query) ([]Found, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxResults)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	from := "audit_leaf s"
	where = append(where, "s.org_id = "+arg(q.OrgID))
	if q.Patient != "" {
		from = "audit_patient p JOIN audit_leaf s ON s.idx = p.idx"
		where = append(where, "p.org_id = "+arg(q.OrgID), "p.patient = "+arg(q.Patient))
	}
	if q.Subject != "" {
		where = append(where, "s.subject = "+arg(q.Subject))
	}
	if !q.From.IsZero() {
		where = append(where, "s.recorded >= "+arg(q.From.UnixMicro()))
	}
	if !q.To.IsZero() {
		where = append(where, "s.recorded < "+arg(q.To.UnixMicro()))
	}
	if q.Action != "" {
		where = append(where, "s.action = "+arg(string(q.Action)))
	}
	if q.Outcome != nil {
		where = append(where, "s.outcome = "+arg(int(*q.Outcome)))
	}
	query := "SELECT s.idx, e.body FROM " + from + " JOIN audit_entry e ON e.pos = s.entry_pos WHERE " +
		strings.Join(where, " AND ") + " ORDER BY s.recorded DESC, s.idx DESC LIMIT " + arg(limit)
	rows, err := l.db.Read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: search: %w", err)
	}
	defer rows.Close()
	var out []Found
	for rows.Next() {
		var idx int64
		var body []byte
		if err := rows.Scan(&idx, &body); err != nil {
			return nil, fmt.Errorf("audit: search: %w", err)
		}
		e, err := ParseEntry(body)
		if err != nil {
			return nil, fmt.Errorf("audit: search: leaf %d: %w", idx, err)
		}
		out = append(out, Found{Index: uint64(idx), Entry: e})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: search: %w", err)
	}
	return out, nil
}

// searchParams are the parameters GET /audit/AuditEvent accepts.
var searchParams = []string{"patient", "user", "date", "action", "outcome", "_count"}

var refID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// ParseQuery reads the FHIR search parameters of GET /audit/AuditEvent into
// a Query for orgID: patient (Patient/id or id), user, date (repeatable,
// with the prefixes eq, gt, ge, lt, le), action, outcome and _count. Any
// other parameter, or a bad value, gives an errs.Invalid error naming it.
func ParseQuery(orgID string, v url.Values) (Query, error) {
	q := Query{OrgID: orgID}
	for name, vals := range v {
		if !slices.Contains(searchParams, name) {
			return q, errs.Invalidf(name, "Unknown search parameter %q; use %s.", name, strings.Join(searchParams, ", "))
		}
		if name != "date" && len(vals) > 1 {
			return q, errs.Invalidf(name, "Give %s once.", name)
		}
	}
	if p := v.Get("patient"); p != "" {
		id := strings.TrimPrefix(p, "Patient/")
		if !refID.MatchString(id) {
			return q, errs.Invalidf("patient", "patient must be Patient/id or a FHIR id.")
		}
		q.Patient = "Patient/" + id
	}
	if u := v.Get("user"); u != "" {
		if len(u) > 256 {
			return q, errs.Invalidf("user", "user is too long.")
		}
		q.Subject = u
	}
	if a := v.Get("action"); a != "" {
		q.Action = Action(a)
		if !q.Action.valid() {
			return q, errs.Invalidf("action", "action must be one of C, R, U, D, E.")
		}
	}
	if o := v.Get("outcome"); o != "" {
		n, err := strconv.Atoi(o)
		out := Outcome(n)
		if err != nil || !out.valid() {
			return q, errs.Invalidf("outcome", "outcome must be one of 0, 4, 8, 12.")
		}
		q.Outcome = &out
	}
	if c := v.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > MaxResults {
			return q, errs.Invalidf("_count", "_count must be a number from 1 to %d.", MaxResults)
		}
		q.Limit = n
	}
	for _, d := range v["date"] {
		if err := q.addDate(d); err != nil {
			return q, err
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, errs.Invalidf("date", "The date parameters select no time at all.")
	}
	return q, nil
}

// addDate narrows the query by one FHIR date parameter value.
func (q *Query) addDate(s string) error {
	prefix := "eq"
	if len(s) > 2 && s[0] >= 'a' && s[0] <= 'z' {
		prefix, s = s[:2], s[2:]
	}
	start, end, err := parseFHIRDate(s)
	if err != nil {
		return errs.Invalidf("date", "date %q: %s", s, err)
	}
	later := func(t time.Time) {
		if q.From.IsZero() || t.After(q.From) {
			q.From = t
		}
	}
	earlier := func(t time.Time) {
		if q.To.IsZero() || t.Before(q.To) {
			q.To = t
		}
	}
	switch prefix {
	case "eq":
		later(start)
		earlier(end)
	case "ge":
		later(start)
	case "gt":
		later(end)
	case "le":
		earlier(end)
	case "lt":
		earlier(start)
	default:
		return errs.Invalidf("date", "Date prefix %q is not supported; use eq, gt, ge, lt or le.", prefix)
	}
	return nil
}

// parseFHIRDate returns the time range [start, end) a FHIR date or
// dateTime of any precision covers: 2024, 2024-05, 2024-05-06,
// 2024-05-06T10:30Z, 2024-05-06T10:30:00.5+02:00. Times without a zone are
// UTC.
func parseFHIRDate(s string) (start, end time.Time, err error) {
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
	}
	if len(s) > 40 {
		return start, end, fmt.Errorf("is too long")
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t.UTC(), l.step(t).UTC(), nil
		}
	}
	// Fractional seconds: the instant itself, to the microsecond.
	for _, l := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(l, s); err == nil {
			t = t.UTC().Truncate(time.Microsecond)
			return t, t.Add(time.Microsecond), nil
		}
	}
	return start, end, fmt.Errorf("is not a date like 2024-05-06 or 2024-05-06T10:30:00Z")
}
