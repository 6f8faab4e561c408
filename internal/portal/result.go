package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/interpret"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/portal/chart"
	"github.com/careloop/careloop/internal/portal/explain"
)

// resultPage is one test: its journey, and once shared its results.
type resultPage struct {
	Item     resultItem
	Readings []readingView
	// Comment is the clinician's comment on the report.
	Comment  string
	Steps    []step
	FollowUp *booking.FollowUp
	// Acknowledged: the patient said they read the result.
	Acknowledged bool
	Critical     bool
	D            dates
}

// readingView is one result with everything the page says about it.
type readingView struct {
	reading
	Name        string
	ValueText   string // "8.1 %" or "Negative"
	RangeText   string // "Usual range: 4.0 to 5.6 %"
	Status      string // "high", "low", "normal", "critical-high"... for words and icons
	Bar         template.HTML
	Trend       template.HTML
	TrendRows   []trendRow
	Explanation *explain.Explanation
	// LabName is the laboratory's own name of the test, shown when the
	// explanation's name is more general ("Peanut IgE" under "Allergy
	// blood test").
	LabName string
}

type trendRow struct {
	At      time.Time
	Value   string
	Flagged bool
}

// step is one stage of the tracking timeline.
type step struct {
	Key     string // catalog key of its name: "step.ordered"...
	At      *time.Time
	Done    bool
	Current bool
}

func (p *Pages) result(w http.ResponseWriter, r *http.Request, u *person) {
	ctx := r.Context()
	j, evs, err := p.reachableJourney(ctx, u, r.PathValue("id"))
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	etas, err := p.Journeys.ETAs(ctx, u.p.OrgID, []*journey.Journey{j})
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	d := p.dates(ctx, u)
	page := resultPage{Item: itemOf(u, j, etas[j.ID]), Steps: steps(j, evs), Acknowledged: j.AckedAt != nil,
		Critical: j.ReleasedAt != nil && j.Flag == journey.Critical, D: d}
	if err := p.JourneyAudit.Record(ctx, u.p, journey.Access{Action: "read", What: "portal-result", Journeys: []string{j.ID}, Patients: []string{j.PatientID}}); err != nil {
		p.fail(w, r, u, err)
		return
	}
	if j.ReleasedAt != nil {
		if err := p.readResults(ctx, u, j, d, &page); err != nil {
			p.fail(w, r, u, err)
			return
		}
		if j.ViewedAt == nil {
			// Opening a shared result is the patient's "viewed" step.
			if err := p.Journeys.Viewed(ctx, u.p.OrgID, j.ID, u.p.Subject, p.checkJourney(ctx, u, "viewed")); err != nil {
				p.fail(w, r, u, err)
				return
			}
		}
	}
	if p.Booking != nil && j.FollowupAt != nil {
		fus, err := p.Booking.FollowUps(ctx, u.p)
		if err != nil {
			p.fail(w, r, u, err)
			return
		}
		for i := range fus {
			if fus[i].ReasonRef != "" && (fus[i].ReasonRef == j.ReportRef || fus[i].ReasonRef == j.Anchor) {
				page.FollowUp = &fus[i]
				break
			}
		}
	}
	p.page(w, r, u, http.StatusOK, "result", page.Item.Test, page, nil)
}

// reachableJourney returns journey id when it is of a patient u reaches,
// else errs.NotFound, as for a journey that does not exist.
func (p *Pages) reachableJourney(ctx context.Context, u *person, id string) (*journey.Journey, []journey.Transition, error) {
	j, evs, err := p.Journeys.Get(ctx, u.p.OrgID, id)
	if err != nil {
		return nil, nil, err
	}
	if !u.reaches(j.PatientID) || j.MergedInto != "" {
		return nil, nil, errs.NotFoundf("journey %s is not known", id)
	}
	return j, evs, nil
}

// readResults reads the report and the results of a shared journey, and
// each test's earlier shared results for its trend, and records the read.
func (p *Pages) readResults(ctx context.Context, u *person, j *journey.Journey, d dates, page *resultPage) error {
	org := u.p.OrgID
	var shown []*fhir.Stored
	pat, err := p.Records.Read(ctx, org, "Patient", j.PatientID)
	if err != nil {
		return err
	}
	shown = append(shown, pat)
	facts := patientFacts(pat.JSON)
	var obsRefs []string
	if ref := cmp.Or(j.ReportRef, anchorOf(j, "DiagnosticReport")); ref != "" {
		st, err := p.readRef(ctx, org, ref)
		if err != nil {
			return err
		}
		shown = append(shown, st)
		var rep report
		_ = json.Unmarshal(st.JSON, &rep)
		page.Comment = strings.TrimSpace(rep.Conclusion)
		for _, res := range rep.Result {
			obsRefs = append(obsRefs, res.Reference)
		}
	} else if ref := anchorOf(j, "Observation"); ref != "" {
		obsRefs = append(obsRefs, ref)
	}
	var codes []string
	for _, ref := range obsRefs {
		st, err := p.readRef(ctx, org, ref)
		if errs.CodeOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return err
		}
		rd, ok := readObservation(st.JSON, facts, p.Now())
		if !ok {
			continue
		}
		shown = append(shown, st)
		page.Readings = append(page.Readings, p.view(u, rd, d))
		if rd.Code != "" && rd.HasValue && !slices.Contains(codes, rd.Code) {
			codes = append(codes, rd.Code)
		}
	}
	if err := p.Audit.Record(ctx, u.p, fhir.AuditEvent{Interaction: fhir.InteractionRead, Type: "DiagnosticReport", Resources: shown}); err != nil {
		return err
	}
	if len(codes) == 0 {
		return nil
	}
	return p.trends(ctx, u, j.PatientID, facts, codes, d, page)
}

// trends draws each numeric test's results over time: only results the
// patient has been given (of journeys released to them), oldest first.
func (p *Pages) trends(ctx context.Context, u *person, patientID string, facts interpret.Patient, codes []string, d dates, page *resultPage) error {
	org := u.p.OrgID
	sharing, err := p.Journeys.Sharing(ctx, org, patientID)
	if err != nil {
		return err
	}
	shared := sharing.Shared
	or := make([]string, len(codes))
	for i, c := range codes {
		or[i] = loinc + "|" + c
	}
	// Sorted below rather than by the search, which costs more.
	q := url.Values{"patient": {"Patient/" + patientID}, "code": {strings.Join(or, ",")},
		"_count": {"500"}, "_revinclude": {"DiagnosticReport:result"}}
	res, err := p.Records.Search(ctx, org, "Observation", q, false)
	if err != nil {
		return err
	}
	inShared := map[string]bool{}
	for _, inc := range res.Included {
		if inc.Type != "DiagnosticReport" || !shared[inc.Ref()] {
			continue
		}
		var rep report
		_ = json.Unmarshal(inc.JSON, &rep)
		for _, r := range rep.Result {
			inShared[r.Reference] = true
		}
	}
	series := map[string][]reading{}
	var shown []*fhir.Stored
	for i := range res.Matches {
		st := res.Matches[i]
		if !inShared[st.Ref()] && !shared[st.Ref()] {
			continue
		}
		rd, ok := readObservation(st.JSON, facts, p.Now())
		if !ok || !rd.HasValue || rd.At.IsZero() {
			continue
		}
		series[rd.Code] = append(series[rd.Code], rd)
		shown = append(shown, st)
	}
	if err := p.Audit.Record(ctx, u.p, fhir.AuditEvent{Interaction: fhir.InteractionSearch, Type: "Observation", Query: q.Encode(), Resources: shown}); err != nil {
		return err
	}
	for i := range page.Readings {
		rv := &page.Readings[i]
		pts := series[rv.Code]
		if len(pts) < 2 {
			continue
		}
		slices.SortFunc(pts, func(a, b reading) int { return a.At.Compare(b.At) })
		t := chart.Trend{Low: rv.Low, High: rv.High, Unit: rv.Unit, Title: u.l.T("result.trend.title", "Test", rv.Name),
			Desc:      u.l.T("result.trend.desc", "Test", rv.Name, "Count", len(pts), "From", d.Short(pts[0].At), "To", d.Short(pts[len(pts)-1].At)),
			DateLabel: d.MonthYear}
		for _, pt := range pts {
			flagged := pt.Level >= interpret.Abnormal
			label := d.Short(pt.At) + ": " + number(pt.Value) + " " + pt.Unit
			t.Points = append(t.Points, chart.Point{At: pt.At, Value: pt.Value, Label: label, Flagged: flagged})
			rv.TrendRows = append(rv.TrendRows, trendRow{At: pt.At, Value: number(pt.Value) + " " + pt.Unit, Flagged: flagged})
		}
		rv.Trend = chart.TrendChart("trend-"+strconv.Itoa(i), t)
	}
	return nil
}

// view says a reading in the reader's words.
func (p *Pages) view(u *person, rd reading, d dates) readingView {
	v := readingView{reading: rd, Name: rd.Display}
	if e, ok := explain.Lookup(rd.Code, u.l.Lang()); ok {
		v.Explanation = &e
		v.Name = e.Name
		if rd.Display != "" && !strings.EqualFold(rd.Display, e.Name) {
			v.LabName = rd.Display
		}
	}
	switch {
	case rd.HasValue:
		v.ValueText = strings.TrimSpace(number(rd.Value) + " " + rd.Unit)
	default:
		v.ValueText = rd.Text
	}
	v.Status = status(rd)
	switch {
	case rd.Low != nil && rd.High != nil:
		v.RangeText = u.l.T("result.range.both", "Low", number(*rd.Low), "High", number(*rd.High), "Unit", rd.Unit)
	case rd.High != nil:
		v.RangeText = u.l.T("result.range.below", "High", number(*rd.High), "Unit", rd.Unit)
	case rd.Low != nil:
		v.RangeText = u.l.T("result.range.above", "Low", number(*rd.Low), "Unit", rd.Unit)
	}
	if rd.HasValue && (rd.Low != nil || rd.High != nil) {
		v.Bar = chart.RangeBar("bar-"+rd.ID, chart.Range{Value: rd.Value, Low: rd.Low, High: rd.High,
			CriticalLow: rd.CriticalLow, CriticalHigh: rd.CriticalHigh, Unit: rd.Unit, Title: v.Name,
			Desc:     u.l.T("result.bar.desc."+v.Status, "Value", v.ValueText, "Range", v.RangeText),
			LowLabel: u.l.T("result.bar.low"), NormalLabel: u.l.T("result.bar.normal"), HighLabel: u.l.T("result.bar.high"),
			ValueLabel: u.l.T("result.bar.value", "Value", v.ValueText)})
	}
	return v
}

// status names how a reading compares with its range, for its words and
// icon: normal, low, high, critical-low, critical-high, abnormal or unknown.
func status(rd reading) string {
	switch rd.Level {
	case interpret.Normal:
		return "normal"
	case interpret.Abnormal, interpret.Critical:
		s := "abnormal"
		if rd.Direction == "low" || rd.Direction == "high" {
			s = rd.Direction
		}
		if rd.Level == interpret.Critical {
			if s == "abnormal" {
				return "critical"
			}
			return "critical-" + s
		}
		return s
	}
	return "unknown"
}

// number writes a value without trailing zeros: 8.1, 140, 0.04.
func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// readRef reads "Type/id".
func (p *Pages) readRef(ctx context.Context, org, ref string) (*fhir.Stored, error) {
	typ, id, ok := strings.Cut(ref, "/")
	if !ok || id == "" {
		return nil, errs.NotFoundf("%s is not known", ref)
	}
	return p.Records.Read(ctx, org, typ, id)
}

// anchorOf returns the journey's anchor when it is of type typ.
func anchorOf(j *journey.Journey, typ string) string {
	if strings.HasPrefix(j.Anchor, typ+"/") {
		return j.Anchor
	}
	return ""
}

// steps is a journey's tracking timeline as the patient follows it.
func steps(j *journey.Journey, evs []journey.Transition) []step {
	reached := map[journey.Stage]time.Time{}
	for _, ev := range evs {
		if _, seen := reached[ev.To]; !seen && ev.From != ev.To {
			reached[ev.To] = ev.At
		}
	}
	at := func(t *time.Time, stages ...journey.Stage) *time.Time {
		if t != nil {
			return t
		}
		for _, s := range stages {
			if v, ok := reached[s]; ok {
				return &v
			}
		}
		return nil
	}
	opened := j.OpenedAt
	out := []step{}
	if strings.HasPrefix(j.Anchor, "ServiceRequest/") {
		out = append(out, step{Key: "step.ordered", At: &opened})
		out = append(out, step{Key: "step.collected", At: at(nil, journey.Collected, journey.InProgress)})
	}
	out = append(out, step{Key: "step.result", At: at(j.FinalAt, journey.Final)})
	if j.ReviewedAt != nil || j.ReleasedAt == nil {
		// A result shared without a review (the policy let it go at once)
		// has no review step to show.
		out = append(out, step{Key: "step.reviewed", At: at(j.ReviewedAt, journey.Reviewed)})
	}
	out = append(out,
		step{Key: "step.released", At: at(j.ReleasedAt, journey.Released)},
		step{Key: "step.viewed", At: at(j.ViewedAt, journey.Viewed)},
	)
	if j.FollowupAt != nil {
		out = append(out,
			step{Key: "step.followup", At: j.FollowupAt},
			step{Key: "step.booked", At: at(j.BookedAt, journey.FollowupBooked)},
			step{Key: "step.done", At: at(j.DoneAt, journey.FollowupDone)})
	}
	// A step of the laboratory passed without its own event (no Specimen
	// was sent, say) is done when the result is: the result cannot come
	// before the sample. The steps after it each need their own time.
	for i := range out {
		out[i].Done = out[i].At != nil
		if out[i].Key == "step.result" && out[i].Done {
			for k := 0; k < i; k++ {
				out[k].Done = true
			}
		}
	}
	if !j.Stage.Terminal() {
		for i := range out {
			if !out[i].Done {
				out[i].Current = true // the first step to come
				break
			}
		}
	}
	return out
}

// acknowledge records that the patient read and understood the result.
func (p *Pages) acknowledge(w http.ResponseWriter, r *http.Request, u *person) {
	id := r.PathValue("id")
	if err := p.Journeys.Acknowledged(r.Context(), u.p.OrgID, id, u.p.Subject, p.checkJourney(r.Context(), u, "acknowledged")); err != nil {
		p.fail(w, r, u, err)
		return
	}
	pweb.SetFlash(w, "success", u.l.T("result.acknowledged"))
	http.Redirect(w, r, "/results/"+url.PathEscape(id), http.StatusSeeOther)
}
