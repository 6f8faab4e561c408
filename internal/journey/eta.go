package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// ETA is when an order's result is expected, like a parcel's: the median
// and the 80th percentile of the time from order to final result of the
// same test at the same site, or a default for the test's category while
// that history is short.
type ETA struct {
	MedianAt time.Time `json:"median_at"`
	P80At    time.Time `json:"p80_at"`
	// Basis is "history" (at least ETAMinSamples results of this test at
	// this site) or "default" (the category's default, ETADefaults).
	Basis      string `json:"basis"`
	SampleSize int    `json:"sample_size"`
	// Sentence says it in words: "usually ready within 2 days; 8 in 10 by
	// Thursday".
	Sentence string `json:"sentence"`
}

// Bases of an ETA.
const (
	BasisHistory = "history"
	BasisDefault = "default"
)

const (
	// ETAWindow is how many of the most recent results of a test at a site
	// the estimate reads.
	ETAWindow = 200
	// ETAMinSamples is how many results of a test at a site the estimate
	// needs before it trusts them over the category's default.
	ETAMinSamples = 5
)

// Categories of tests, for the default estimates.
const (
	CategoryLaboratory = "laboratory"
	CategoryImaging    = "imaging"
	CategoryPathology  = "pathology"
	CategoryOther      = "other"
)

// ETADefaults are the estimates (median, 80th percentile) of a test
// without enough history: careloop's conservative defaults for routine
// outpatient work, not figures from a source. A laboratory's routine
// chemistry and haematology are usually reported the same or the next
// day; an imaging report within a few days; tissue pathology takes about
// a week.
var ETADefaults = map[string][2]time.Duration{
	CategoryLaboratory: {24 * time.Hour, 48 * time.Hour},
	CategoryImaging:    {48 * time.Hour, 4 * 24 * time.Hour},
	CategoryPathology:  {5 * 24 * time.Hour, 10 * 24 * time.Hour},
	CategoryOther:      {3 * 24 * time.Hour, 7 * 24 * time.Hour},
}

// categoryOf reads the category of an order: SNOMED CT 108252007
// (laboratory procedure), 363679005 (imaging), 108257001 (anatomic
// pathology procedure) or 394595002 (pathology) in ServiceRequest.category,
// or its text; without one, a LOINC-coded order is taken as laboratory.
func categoryOf(r *resource) string {
	cat := ""
	gjson.GetBytes(r.JSON, "category").ForEach(func(_, c gjson.Result) bool {
		words := strings.ToLower(c.Get("text").String())
		c.Get("coding").ForEach(func(_, cd gjson.Result) bool {
			words += " " + cd.Get("code").String() + " " + strings.ToLower(cd.Get("display").String())
			return true
		})
		switch {
		case strings.Contains(words, "108257001") || strings.Contains(words, "394595002") || strings.Contains(words, "patholog"):
			cat = CategoryPathology
		case strings.Contains(words, "363679005") || strings.Contains(words, "imaging") || strings.Contains(words, "radiolog"):
			cat = CategoryImaging
		case strings.Contains(words, "108252007") || strings.Contains(words, "laboratory"):
			cat = CategoryLaboratory
		}
		return cat == ""
	})
	if cat == "" && r.System == "http://loinc.org" {
		cat = CategoryLaboratory
	}
	if cat == "" {
		cat = CategoryOther
	}
	return cat
}

// siteOf returns where an order is performed: its first performer that is
// an Organization, else its first locationReference; "" (the organisation
// itself) when it names neither.
func siteOf(r *resource) string {
	doc := gjson.ParseBytes(r.JSON)
	site := ""
	doc.Get("performer").ForEach(func(_, v gjson.Result) bool {
		if ref := localRef(v.Get("reference").String()); strings.HasPrefix(ref, "Organization/") {
			site = ref
		}
		return site == ""
	})
	if site == "" {
		site = localRef(doc.Get("locationReference.0.reference").String())
	}
	return site
}

// codeKey names a test for the estimates: "system|code".
func codeKey(j *Journey) string { return j.System + "|" + j.Code }

// trackETA keeps the estimates' data in the transaction that changes a
// journey: an order opened before its result waits in journey_eta_pending;
// when its result is final, the time from order to final becomes a sample
// of its test and site and the series' median and 80th percentile are
// recomputed. Imported history gives no samples: its times are the
// import's.
func (t *tx) trackETA(p *pending) error {
	j := p.j
	switch {
	case !p.was.stored && p.source != nil && p.source.Type == "ServiceRequest" && j.FinalAt == nil && !j.Stage.Terminal():
		_, err := t.tx.ExecContext(t.ctx, `INSERT INTO journey_eta_pending (org_id, journey_id, site, category, started_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, journey_id) DO NOTHING`,
			t.orgID, j.ID, siteOf(p.source), categoryOf(p.source), ms(j.OpenedAt))
		if err != nil {
			return fmt.Errorf("journey: wait for the result of %s: %w", j.ID, err)
		}
	case p.was.stored && !p.was.final && j.FinalAt != nil:
		var site string
		var started int64
		err := t.tx.QueryRowContext(t.ctx, `DELETE FROM journey_eta_pending WHERE org_id = $1 AND journey_id = $2
			RETURNING site, started_at`, t.orgID, j.ID).Scan(&site, &started)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("journey: result of %s arrived: %w", j.ID, err)
		}
		if p.historical() {
			return nil
		}
		return t.sample(codeKey(j), site, max(j.FinalAt.Sub(fromMS(started)), 0))
	case p.was.stored && !p.was.ended && j.Stage.Terminal():
		if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM journey_eta_pending WHERE org_id = $1 AND journey_id = $2", t.orgID, j.ID); err != nil {
			return fmt.Errorf("journey: %s ended: %w", j.ID, err)
		}
	}
	return nil
}

// sample stores a duration from order to final of a test at a site in the
// series' ring of ETAWindow slots, and recomputes its median and 80th
// percentile.
func (t *tx) sample(key, site string, d time.Duration) error {
	var n int64
	err := t.tx.QueryRowContext(t.ctx, `INSERT INTO journey_eta_series (org_id, code_key, site, observations, median_ms, p80_ms, updated_at)
		VALUES ($1, $2, $3, 1, $4, $4, $5) ON CONFLICT (org_id, code_key, site) DO UPDATE
		SET observations = journey_eta_series.observations + 1, updated_at = excluded.updated_at
		RETURNING observations`, t.orgID, key, site, d.Milliseconds(), ms(t.now)).Scan(&n)
	if err != nil {
		return fmt.Errorf("journey: count a result of %s at %q: %w", key, site, err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO journey_eta_samples (org_id, code_key, site, slot, duration_ms, at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, code_key, site, slot) DO UPDATE
		SET duration_ms = excluded.duration_ms, at = excluded.at`, t.orgID, key, site, (n-1)%ETAWindow, d.Milliseconds(), ms(t.now)); err != nil {
		return fmt.Errorf("journey: keep a result of %s at %q: %w", key, site, err)
	}
	rows, err := t.tx.QueryContext(t.ctx, "SELECT duration_ms FROM journey_eta_samples WHERE org_id = $1 AND code_key = $2 AND site = $3",
		t.orgID, key, site)
	if err != nil {
		return fmt.Errorf("journey: read the results of %s at %q: %w", key, site, err)
	}
	var ds []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("journey: read the results of %s at %q: %w", key, site, err)
		}
		ds = append(ds, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journey: read the results of %s at %q: %w", key, site, err)
	}
	slices.Sort(ds)
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE journey_eta_series SET median_ms = $4, p80_ms = $5
		WHERE org_id = $1 AND code_key = $2 AND site = $3`, t.orgID, key, site, quantile(ds, 0.5), quantile(ds, 0.8)); err != nil {
		return fmt.Errorf("journey: estimate %s at %q: %w", key, site, err)
	}
	return nil
}

// quantile returns the q-quantile of sorted values by the nearest rank: the
// smallest value with at least q of the values at or below it; 0 for none.
func quantile[T int64 | time.Duration](sorted []T, q float64) T {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// waitsForResult reports whether a journey shows an ETA: an order still
// open whose result is not final yet.
func waitsForResult(j *Journey) bool {
	return j.FinalAt == nil && !j.Stage.Terminal() && strings.HasPrefix(j.Anchor, "ServiceRequest/")
}

// ETAs returns the expected arrival of the result of each journey among js
// that waits for one (an open order whose result is not final), by
// journey id. It reads two small tables, once for all of js.
func (s *Service) ETAs(ctx context.Context, orgID string, js []*Journey) (map[string]*ETA, error) {
	out := map[string]*ETA{}
	var ids []any
	byID := map[string]*Journey{}
	for _, j := range js {
		if waitsForResult(j) {
			ids = append(ids, j.ID)
			byID[j.ID] = j
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	type waiting struct {
		site, category string
		started        time.Time
	}
	pend := map[string]waiting{}
	rows, err := s.db.Read.QueryContext(ctx, "SELECT journey_id, site, category, started_at FROM journey_eta_pending WHERE org_id = $1 AND journey_id IN ("+
		placeholders(2, len(ids))+")", append([]any{orgID}, ids...)...)
	if err != nil {
		return nil, fmt.Errorf("journey: expected results: %w", err)
	}
	keys := map[string]bool{}
	for rows.Next() {
		var id string
		var w waiting
		var started int64
		if err := rows.Scan(&id, &w.site, &w.category, &started); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journey: expected results: %w", err)
		}
		w.started = fromMS(started)
		pend[id] = w
		keys[codeKey(byID[id])] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey: expected results: %w", err)
	}
	if len(pend) == 0 {
		return out, nil
	}
	type series struct {
		n           int64
		median, p80 time.Duration
	}
	known := map[[2]string]series{}
	var keyArgs []any
	for k := range keys {
		keyArgs = append(keyArgs, k)
	}
	rows, err = s.db.Read.QueryContext(ctx, "SELECT code_key, site, observations, median_ms, p80_ms FROM journey_eta_series WHERE org_id = $1 AND code_key IN ("+
		placeholders(2, len(keyArgs))+")", append([]any{orgID}, keyArgs...)...)
	if err != nil {
		return nil, fmt.Errorf("journey: history of results: %w", err)
	}
	for rows.Next() {
		var key, site string
		var se series
		var med, p80 int64
		if err := rows.Scan(&key, &site, &se.n, &med, &p80); err != nil {
			rows.Close()
			return nil, fmt.Errorf("journey: history of results: %w", err)
		}
		se.median, se.p80 = time.Duration(med)*time.Millisecond, time.Duration(p80)*time.Millisecond
		known[[2]string{key, site}] = se
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey: history of results: %w", err)
	}
	pol, err := policyTx(ctx, s.db.Read, orgID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	for id, w := range pend {
		se := known[[2]string{codeKey(byID[id]), w.site}]
		e := &ETA{Basis: BasisHistory, SampleSize: int(min(se.n, ETAWindow))}
		median, p80 := se.median, se.p80
		if se.n < ETAMinSamples {
			def, ok := ETADefaults[w.category]
			if !ok {
				def = ETADefaults[CategoryOther]
			}
			e.Basis, median, p80 = BasisDefault, def[0], def[1]
		}
		e.MedianAt, e.P80At = w.started.Add(median), w.started.Add(p80)
		e.Sentence = etaSentence(now, median, e.P80At, e.Basis, pol.location())
		out[id] = e
	}
	return out, nil
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

// etaSentence says an estimate like a parcel's: "usually ready within 2
// days; 8 in 10 by Thursday", with the 80th percentile's day in loc, and
// "estimate: no history yet; " first for a default.
func etaSentence(now time.Time, median time.Duration, p80At time.Time, basis string, loc *time.Location) string {
	var b strings.Builder
	if basis == BasisDefault {
		b.WriteString("estimate: no history yet; ")
	}
	b.WriteString("usually ready within " + span(median) + "; ")
	local, today := p80At.In(loc), now.In(loc)
	days := civilDays(today, local)
	switch {
	case p80At.Before(now):
		b.WriteString("taking longer than most: 8 in 10 were ready by " + when(local, days, today))
	default:
		b.WriteString("8 in 10 by " + when(local, days, today))
	}
	return b.String()
}

// when names a time days calendar days from today: "15:00 today",
// "tomorrow", "Thursday" within the week, "3 December" beyond it (with
// the year when it is not today's).
func when(t time.Time, days int, today time.Time) string {
	switch {
	case days == 0:
		return t.Format("15:04") + " today"
	case days == 1:
		return "tomorrow"
	case days > 1 && days < 7:
		return t.Weekday().String()
	case t.Year() != today.Year():
		return t.Format("2 January 2006")
	}
	return t.Format("2 January")
}

// civilDays returns the number of calendar days from a's date to b's, in
// a's location.
func civilDays(a, b time.Time) int {
	da := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	bb := b.In(a.Location())
	dbb := time.Date(bb.Year(), bb.Month(), bb.Day(), 0, 0, 0, 0, time.UTC)
	return int(dbb.Sub(da).Hours() / 24)
}

// span says a duration in whole hours up to a day, else whole days,
// rounded up: "3 hours", "1 day", "2 days".
func span(d time.Duration) string {
	switch {
	case d <= time.Hour:
		return "1 hour"
	case d < 24*time.Hour:
		return fmt.Sprintf("%d hours", int(math.Ceil(d.Hours())))
	}
	n := int(math.Ceil(d.Hours() / 24))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
