package demo_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/fhir/validate"
	"github.com/careloop/careloop/internal/interpret"
)

// record is one generated resource, decoded.
type record struct {
	typ, id string
	raw     []byte
	m       map[string]any
}

// records decodes resources and indexes them by "Type/id".
func records(t *testing.T, rs []demo.Resource) (map[string]*record, []*record) {
	t.Helper()
	by := map[string]*record{}
	var all []*record
	for _, r := range rs {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			t.Fatalf("%s/%s: %v", r.Type, r.ID, err)
		}
		rec := &record{typ: r.Type, id: r.ID, raw: r.JSON, m: m}
		by[r.Type+"/"+r.ID] = rec
		all = append(all, rec)
	}
	return by, all
}

// str follows a path of object keys and array indexes to a string.
func str(v any, path ...any) string {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return ""
			}
			v = a[k]
		}
	}
	s, _ := v.(string)
	return s
}

// refs returns the references of an array of Reference.
func refs(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, e := range a {
		out = append(out, str(e, "reference"))
	}
	return out
}

func instant(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%q is not an instant: %v", s, err)
	}
	return v
}

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// anchors are the "now"s the showcase is checked at: each day of a week
// (the recent visit's weekday logic), the days around both changes of
// daylight saving time in Chicago, early and late in the local day, and a
// leap day.
func anchors() []time.Time {
	var out []time.Time
	for d := range 7 {
		out = append(out, time.Date(2026, 3, 16+d, 15, 4, 5, 0, time.UTC))
	}
	return append(out,
		time.Date(2026, 3, 9, 5, 30, 0, 0, time.UTC),    // Sunday night in Chicago, the day after DST began
		time.Date(2026, 11, 2, 4, 59, 59, 0, time.UTC),  // Sunday 23:59 in Chicago, DST just ended
		time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC),   // the anchor of the seeding tests
		time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC), // leap day, evening
		time.Date(2027, 1, 1, 6, 0, 0, 0, time.UTC),     // New Year's Day, midnight in Chicago
	)
}

func TestShowcasePatient(t *testing.T) {
	for _, anchor := range anchors() {
		for _, seed := range []int64{1, 2, -7} {
			t.Run(fmt.Sprintf("%s seed %d", anchor.Format(time.RFC3339), seed), func(t *testing.T) {
				checkShowcase(t, demo.Config{Seed: seed, Patients: 3, Anchor: anchor})
			})
		}
	}
}

// checkShowcase checks the showcase patient's record at cfg.
func checkShowcase(t *testing.T, cfg demo.Config) {
	g, err := demo.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	anchor := g.Config().Anchor
	clinic := g.Clinic()
	sc := g.Showcase()
	p := g.Patient(demo.ShowcasePatient)
	by, all := records(t, p.Resources)
	clinicBy, _ := records(t, clinic.All())

	get := func(ref, typ string) *record {
		t.Helper()
		r := by[ref]
		if r == nil || r.typ != typ {
			t.Fatalf("%s is not a %s of the showcase patient's record", ref, typ)
		}
		return r
	}
	pat := get(sc.Patient, "Patient")
	if got := "Patient/" + p.PatientID; got != sc.Patient {
		t.Fatalf("Showcase().Patient %s, record's patient %s", sc.Patient, got)
	}
	birth, err := time.Parse(time.DateOnly, str(pat.m, "birthDate"))
	if err != nil {
		t.Fatal(err)
	}
	if age := anchor.Year() - birth.Year(); age < 50 || age > 63 {
		t.Errorf("showcase patient aged about %d, want 50 to 62", age)
	}
	if gp := str(pat.m, "generalPractitioner", 0, "reference"); gp != sc.Clinician || clinicBy[gp] == nil {
		t.Errorf("general practitioner %s, Showcase().Clinician %s (in the clinic: %v)", gp, sc.Clinician, clinicBy[gp] != nil)
	}
	if lang := str(pat.m, "communication", 0, "language", "coding", 0, "code"); lang != "en" {
		t.Errorf("language %q, want en", lang)
	}
	person := interpret.Patient{Gender: str(pat.m, "gender"), BirthDate: birth}

	// Every reference resolves, in the record or the clinic; every
	// resource is valid R4.
	for _, r := range all {
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				if ref, ok := x["reference"].(string); ok && by[ref] == nil && clinicBy[ref] == nil {
					t.Errorf("%s/%s: reference %s resolves to nothing", r.typ, r.id, ref)
				}
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(r.m)
		if issues := validate.Resource(r.typ, r.raw); validate.HasErrors(issues) {
			t.Errorf("%s/%s is not valid R4: %+v", r.typ, r.id, issues)
		}
	}

	// report checks a report and its order: final, issued at a time within
	// [from, to] before Anchor, each result an Observation of the order.
	type result struct {
		code, unit string
		value      float64
		level      interpret.Level
		direction  string
	}
	report := func(order, ref string, from, to time.Duration) (*record, []result) {
		t.Helper()
		sr := get(order, "ServiceRequest")
		dr := get(ref, "DiagnosticReport")
		if str(sr.m, "intent") != "order" || str(sr.m, "subject", "reference") != sc.Patient {
			t.Errorf("%s: intent %q, subject %q", order, str(sr.m, "intent"), str(sr.m, "subject", "reference"))
		}
		if str(dr.m, "status") != "final" || !slices.Equal(refs(dr.m["basedOn"]), []string{order}) {
			t.Errorf("%s: status %q, basedOn %v; want final, %s", ref, str(dr.m, "status"), refs(dr.m["basedOn"]), order)
		}
		issued := instant(t, str(dr.m, "issued"))
		if age := anchor.Sub(issued); age < from || age > to {
			t.Errorf("%s issued %s, %s before Anchor; want %s to %s", ref, issued, age, from, to)
		}
		var out []result
		for _, o := range refs(dr.m["result"]) {
			obs := get(o, "Observation")
			if !slices.Equal(refs(obs.m["basedOn"]), []string{order}) || str(obs.m, "status") != "final" {
				t.Errorf("%s: basedOn %v, status %q", o, refs(obs.m["basedOn"]), str(obs.m, "status"))
			}
			res, err := interpret.Observation(obs.raw, person, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var v float64
			if n, ok := obs.m["valueQuantity"].(map[string]any)["value"].(float64); ok {
				v = n
			}
			out = append(out, result{code: str(obs.m, "code", "coding", 0, "code"), unit: str(obs.m, "valueQuantity", "code"),
				value: v, level: res.Level, direction: res.Direction})
		}
		if len(out) == 0 {
			t.Errorf("%s has no results", ref)
		}
		return dr, out
	}
	one := func(ref string, rs []result, code string) result {
		t.Helper()
		for _, r := range rs {
			if r.code == code {
				return r
			}
		}
		t.Fatalf("%s has no result %s", ref, code)
		return result{}
	}
	const day = 24 * time.Hour

	// The normal panel: a complete blood count, all normal.
	dr, rs := report(sc.NormalOrder, sc.NormalReport, day, 6*day)
	if code := str(dr.m, "code", "coding", 0, "code"); code != "58410-2" || len(rs) != 6 {
		t.Errorf("normal report: code %s with %d results, want a CBC (58410-2) of 6", code, len(rs))
	}
	for _, r := range rs {
		if r.level != interpret.Normal {
			t.Errorf("normal report: %s = %v is %s", r.code, r.value, r.level)
		}
	}
	// The critical result: potassium 6.4 mmol/L, critical high, with the
	// clinician's comment.
	dr, rs = report(sc.CriticalOrder, sc.CriticalReport, day, 6*day)
	if k := one(sc.CriticalReport, rs, "2823-3"); k.value != 6.4 || k.unit != "mmol/L" || k.level != interpret.Critical || k.direction != "high" {
		t.Errorf("potassium %+v, want 6.4 mmol/L critical high", k)
	}
	if c := str(dr.m, "conclusion"); !strings.Contains(c, "potassium") || len(c) > 200 {
		t.Errorf("critical report's conclusion %q", c)
	}
	if got := refs(dr.m["resultsInterpreter"]); !slices.Equal(got, []string{sc.Clinician}) {
		t.Errorf("critical report's resultsInterpreter %v, want %s", got, sc.Clinician)
	}
	// The abnormal result: A1c 8.1 %, high, with the comment.
	dr, rs = report(sc.AbnormalOrder, sc.AbnormalReport, day, 6*day)
	if a := one(sc.AbnormalReport, rs, "4548-4"); a.value != 8.1 || a.unit != "%" || a.level != interpret.Abnormal || a.direction != "high" {
		t.Errorf("A1c %+v, want 8.1 %% abnormal high", a)
	}
	if c := str(dr.m, "conclusion"); c != "Your A1c is higher than last time. Let's talk about your diabetes plan at a follow-up visit." {
		t.Errorf("abnormal report's conclusion %q", c)
	}
	recent := instant(t, str(dr.m, "effectiveDateTime"))

	// Its trend: four earlier A1c results rising from 6.2, the oldest 18
	// to 24 months before, all older than the journeys' 30 days.
	if len(sc.EarlierA1c) != 4 {
		t.Fatalf("%d earlier A1c reports, want 4", len(sc.EarlierA1c))
	}
	var values []float64
	var last time.Time
	for _, ref := range sc.EarlierA1c {
		dr := get(ref, "DiagnosticReport")
		_, rs := report(refs(dr.m["basedOn"])[0], ref, 30*day, 25*31*day)
		a := one(ref, rs, "4548-4")
		values = append(values, a.value)
		at := instant(t, str(dr.m, "effectiveDateTime"))
		if !at.After(last) {
			t.Errorf("earlier A1c %s at %s is not after the one before", ref, at)
		}
		if last.IsZero() {
			if months := recent.Sub(at).Hours() / 24 / 30.44; months < 18 || months > 24 {
				t.Errorf("the oldest A1c is %.1f months before the recent one, want 18 to 24", months)
			}
		}
		last = at
	}
	if !slices.Equal(values, []float64{6.2, 6.6, 7.0, 7.5}) {
		t.Errorf("earlier A1c values %v", values)
	}

	// The follow-up to book.
	fu := get(sc.FollowUpOrder, "ServiceRequest")
	if str(fu.m, "status") != "active" || str(fu.m, "intent") != "order" ||
		str(fu.m, "code", "coding", 0, "system") != "http://snomed.info/sct" || str(fu.m, "code", "coding", 0, "code") != "390906007" ||
		str(fu.m, "code", "text") != "Follow-up visit" || str(fu.m, "subject", "reference") != sc.Patient {
		t.Errorf("follow-up order %s", fu.raw)
	}
	if got := refs(fu.m["reasonReference"]); !slices.Equal(got, []string{sc.AbnormalReport}) {
		t.Errorf("follow-up reasonReference %v, want %s", got, sc.AbnormalReport)
	}
	if got := refs(fu.m["performer"]); !slices.Equal(got, []string{sc.Clinician}) {
		t.Errorf("follow-up performer %v, want the general practitioner %s", got, sc.Clinician)
	}
	issued := instant(t, str(get(sc.AbnormalReport, "DiagnosticReport").m, "issued"))
	if at := instant(t, str(fu.m, "authoredOn")); at.Before(issued) || at.Sub(issued) > 12*time.Hour {
		t.Errorf("follow-up authored %s, the A1c report issued %s", at, issued)
	}

	// The telephone call about the critical result.
	call := get(sc.PhoneCall, "Communication")
	if str(call.m, "status") != "completed" || !slices.Equal(refs(call.m["recipient"]), []string{sc.Patient}) ||
		!slices.Equal(refs(call.m["about"]), []string{sc.CriticalReport}) || str(call.m, "sender", "reference") != sc.Clinician {
		t.Errorf("telephone call %s", call.raw)
	}

	// The order waiting for its result: a lipid panel, its specimen
	// collected on the last weekday before Anchor's day, no report.
	wait := get(sc.WaitingOrder, "ServiceRequest")
	if str(wait.m, "status") != "active" || str(wait.m, "code", "coding", 0, "code") != "24331-1" {
		t.Errorf("waiting order %s", wait.raw)
	}
	var specimens int
	for _, r := range all {
		switch {
		case r.typ == "Specimen" && slices.Contains(refs(r.m["request"]), sc.WaitingOrder):
			specimens++
			at := instant(t, str(r.m, "collection", "collectedDateTime")).In(chicago)
			a := anchor.In(chicago)
			want := time.Date(a.Year(), a.Month(), a.Day()-1, 0, 0, 0, 0, chicago)
			for want.Weekday() == time.Saturday || want.Weekday() == time.Sunday {
				want = want.AddDate(0, 0, -1)
			}
			if at.Format(time.DateOnly) != want.Format(time.DateOnly) {
				t.Errorf("waiting specimen collected %s, want on %s, the last weekday before Anchor's day (%s)", at, want.Format("Mon 2006-01-02"), a)
			}
		case (r.typ == "DiagnosticReport" || r.typ == "Observation") && slices.Contains(refs(r.m["basedOn"]), sc.WaitingOrder):
			t.Errorf("%s/%s reports the waiting order", r.typ, r.id)
		}
	}
	if specimens != 1 {
		t.Errorf("%d specimens of the waiting order, want 1", specimens)
	}

	// Nothing happens after Anchor.
	for _, r := range all {
		for _, f := range []string{"authoredOn", "issued", "effectiveDateTime", "sent"} {
			if s := str(r.m, f); s != "" && instant(t, s).After(anchor) {
				t.Errorf("%s/%s: %s %s after Anchor", r.typ, r.id, f, s)
			}
		}
	}
}

func TestShowcaseIsDeterministic(t *testing.T) {
	cfg := demo.Config{Seed: 11, Patients: 2, Anchor: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)}
	a, _ := demo.NewGenerator(cfg)
	cfg.Patients = 500
	b, _ := demo.NewGenerator(cfg)
	if !reflect.DeepEqual(a.Patient(0), b.Patient(0)) || !reflect.DeepEqual(a.Showcase(), b.Showcase()) {
		t.Error("the showcase patient depends on the number of patients")
	}
	if !reflect.DeepEqual(a.Clinic(), b.Clinic()) {
		t.Error("the clinic depends on the number of patients")
	}
}

func TestAppointmentBook(t *testing.T) {
	for _, anchor := range anchors() {
		for _, practitioners := range []int{1, 8, 20} {
			t.Run(fmt.Sprintf("%s %d practitioners", anchor.Format(time.RFC3339), practitioners), func(t *testing.T) {
				checkAppointmentBook(t, demo.Config{Patients: 1, Practitioners: practitioners, Anchor: anchor})
			})
		}
	}
}

func checkAppointmentBook(t *testing.T, cfg demo.Config) {
	g, err := demo.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	anchor := g.Config().Anchor
	clinic := g.Clinic()
	if clinic.TimeZone != "America/Chicago" {
		t.Fatalf("clinic time zone %q", clinic.TimeZone)
	}
	loc, err := time.LoadLocation(clinic.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	by, all := records(t, clinic.All())
	var mainLoc string
	for _, r := range all {
		if r.typ == "Location" && str(r.m, "partOf", "reference") == "" {
			mainLoc = "Location/" + r.id
		}
	}

	// One active Schedule per physician, for the physician at the clinic.
	physicians := map[string]bool{}
	for _, p := range clinic.Practitioners {
		if p.Role == "physician" {
			physicians["Practitioner/"+p.ID] = true
		}
	}
	schedules := map[string]string{} // Schedule ref -> its physician
	for _, r := range all {
		if r.typ != "Schedule" {
			continue
		}
		actors := refs(r.m["actor"])
		if len(actors) != 2 || !physicians[actors[0]] || actors[1] != mainLoc {
			t.Errorf("Schedule/%s: actors %v, want a physician and %s", r.id, actors, mainLoc)
		}
		if r.m["active"] != true || str(r.m, "serviceType", 0, "text") != "General practice" {
			t.Errorf("Schedule/%s: %s", r.id, r.raw)
		}
		schedules["Schedule/"+r.id] = actors[0]
	}
	if len(schedules) != len(physicians) || len(physicians) == 0 {
		t.Fatalf("%d schedules for %d physicians", len(schedules), len(physicians))
	}

	// Slots: 20 minutes, in the future, within 28 days, on weekdays within
	// the sessions in the clinic's zone, not overlapping per schedule; a
	// few busy.
	type span struct{ start, end time.Time }
	bySchedule := map[string][]span{}
	perDay := map[string]int{}
	statuses := map[string]int{}
	for _, r := range all {
		if r.typ != "Slot" {
			continue
		}
		sched := str(r.m, "schedule", "reference")
		if _, ok := schedules[sched]; !ok || by[sched] == nil {
			t.Fatalf("Slot/%s: schedule %q is none of the Schedules", r.id, sched)
		}
		start, end := instant(t, str(r.m, "start")), instant(t, str(r.m, "end"))
		if end.Sub(start) != 20*time.Minute {
			t.Errorf("Slot/%s lasts %s", r.id, end.Sub(start))
		}
		if !start.After(anchor) || !start.Before(anchor.AddDate(0, 0, 28)) {
			t.Errorf("Slot/%s starts %s, not within the 28 days after %s", r.id, start, anchor)
		}
		ls, le := start.In(loc), end.In(loc)
		if wd := ls.Weekday(); wd == time.Saturday || wd == time.Sunday {
			t.Errorf("Slot/%s on a %s", r.id, wd)
		}
		from, to := ls.Hour()*60+ls.Minute(), le.Hour()*60+le.Minute()
		if !(from >= 9*60 && to <= 12*60 || from >= 14*60 && to <= 17*60) || ls.YearDay() != le.YearDay() {
			t.Errorf("Slot/%s from %s to %s local: outside 09:00-12:00 and 14:00-17:00", r.id, ls.Format("Mon 15:04"), le.Format("15:04"))
		}
		statuses[str(r.m, "status")]++
		bySchedule[sched] = append(bySchedule[sched], span{start, end})
		perDay[sched+ls.Format(time.DateOnly)]++
	}
	for sched, spans := range bySchedule {
		slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
		for i := 1; i < len(spans); i++ {
			if spans[i].start.Before(spans[i-1].end) {
				t.Errorf("%s: slots at %s and %s overlap", sched, spans[i-1].start, spans[i].start)
			}
		}
		if len(spans) < 18*18 {
			t.Errorf("%s: %d slots over 28 days, want the 18 of each of at least 18 full weekdays", sched, len(spans))
		}
	}
	full := 0
	for _, n := range perDay {
		if n > 18 {
			t.Errorf("a day with %d slots, more than the 18 of the sessions", n)
		}
		if n == 18 {
			full++
		}
	}
	if full < 18*len(schedules) {
		t.Errorf("%d full days in all, want at least 18 per schedule", full)
	}
	if len(statuses) != 2 || statuses["busy"] == 0 || statuses["free"] < 4*statuses["busy"] {
		t.Errorf("slot statuses %v, want mostly free and a few busy", statuses)
	}
	for _, r := range all {
		if r.typ == "Schedule" || r.typ == "Slot" {
			if issues := validate.Resource(r.typ, r.raw); validate.HasErrors(issues) {
				t.Errorf("%s/%s is not valid R4: %+v", r.typ, r.id, issues)
			}
		}
	}
}
