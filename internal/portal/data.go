package portal

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// maxRecord bounds the resources of one downloaded record.
const maxRecord = 20000

type dataPage struct {
	Records   []record
	Caregiver bool
}

type record struct {
	ID, Name string
	Own      bool
}

// data lists the records the person may download.
func (p *Pages) data(w http.ResponseWriter, r *http.Request, u *person) {
	page := dataPage{Caregiver: u.caregiver()}
	for _, id := range u.reach {
		page.Records = append(page.Records, record{ID: id, Name: u.Name(id), Own: id == u.own})
	}
	slices.SortFunc(page.Records, func(a, b record) int {
		if a.Own != b.Own {
			if a.Own {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	p.page(w, r, u, http.StatusOK, "data", u.l.T("data.title"), page, nil)
}

// wholeRecord reads a patient's record as the patient may have it: the
// Patient and every resource that refers to them, except results the
// care team has not shared yet (a hold, or not reviewed), and records the
// read.
func (p *Pages) wholeRecord(ctx context.Context, u *person, patientID, operation string) ([]*fhir.Stored, error) {
	if patientID == "" {
		patientID = u.own
	}
	if !u.reaches(patientID) {
		return nil, errs.NotFoundf("Patient/%s is not known", patientID)
	}
	pat, err := p.Records.Read(ctx, u.p.OrgID, "Patient", patientID)
	if err != nil {
		return nil, err
	}
	related, err := p.Records.ReferringTo(ctx, u.p.OrgID, "Patient", patientID, maxRecord)
	if err != nil {
		return nil, err
	}
	held, err := p.heldResults(ctx, u, patientID, related)
	if err != nil {
		return nil, err
	}
	out := []*fhir.Stored{pat}
	for _, st := range related {
		if !held[st.Ref()] && !st.Deleted {
			out = append(out, st)
		}
	}
	if err := p.Audit.Record(ctx, u.p, fhir.AuditEvent{Interaction: fhir.InteractionOperation, Operation: operation, Type: "Patient", Resources: out}); err != nil {
		return nil, err
	}
	return out, nil
}

// heldResults returns the reports and results of the patient's journeys
// not released to them ("Type/id"), with the results those reports list.
func (p *Pages) heldResults(ctx context.Context, u *person, patientID string, related []*fhir.Stored) (map[string]bool, error) {
	sharing, err := p.Journeys.Sharing(ctx, u.p.OrgID, patientID)
	if err != nil {
		return nil, err
	}
	held := sharing.Held
	for _, st := range related {
		if st.Type != "DiagnosticReport" || !held[st.Ref()] {
			continue
		}
		var rep report
		_ = json.Unmarshal(st.JSON, &rep)
		for _, r := range rep.Result {
			held[r.Reference] = true
		}
	}
	return held, nil
}

// downloadRecord sends the record as a FHIR R4 Bundle (collection).
func (p *Pages) downloadRecord(w http.ResponseWriter, r *http.Request, u *person) {
	rs, err := p.wholeRecord(r.Context(), u, r.URL.Query().Get("patient"), "portal-download")
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","timestamp":`)
	ts, _ := json.Marshal(p.Now().UTC().Format(time.RFC3339))
	b.Write(ts)
	b.WriteString(`,"entry":[`)
	for i, st := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":"urn:careloop:`)
		b.WriteString(st.Ref())
		b.WriteString(`","resource":`)
		b.Write(st.JSON)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	pweb.SetHeaders(w.Header())
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("Content-Disposition", `attachment; filename="health-record-`+rs[0].ID+`.json"`)
	_, _ = w.Write(b.Bytes())
}

// summaryPage is the printable summary of a record.
type summaryPage struct {
	Name, BirthDate, Gender string
	Sections                []summarySection
	Printed                 time.Time
	D                       dates
}

type summarySection struct {
	Key   string // catalog key of its heading
	Items []summaryItem
}

type summaryItem struct {
	Text   string
	Detail string
	At     time.Time
}

// summaryTypes are the sections of the summary, in order.
var summaryTypes = []struct{ typ, key string }{
	{"Condition", "summary.conditions"}, {"MedicationRequest", "summary.medications"},
	{"AllergyIntolerance", "summary.allergies"}, {"Immunization", "summary.immunizations"},
	{"Observation", "summary.results"}, {"Appointment", "summary.appointments"},
}

// summary shows the record as a page to print or save as PDF.
func (p *Pages) summary(w http.ResponseWriter, r *http.Request, u *person) {
	rs, err := p.wholeRecord(r.Context(), u, r.URL.Query().Get("patient"), "portal-summary")
	if err != nil {
		p.fail(w, r, u, err)
		return
	}
	var pat struct {
		Name []struct {
			Text   string   `json:"text"`
			Given  []string `json:"given"`
			Family string   `json:"family"`
		} `json:"name"`
		BirthDate string `json:"birthDate"`
		Gender    string `json:"gender"`
	}
	_ = json.Unmarshal(rs[0].JSON, &pat)
	page := summaryPage{BirthDate: pat.BirthDate, Gender: pat.Gender, Printed: p.Now(), D: p.dates(r.Context(), u)}
	if len(pat.Name) > 0 {
		page.Name = cmp.Or(pat.Name[0].Text, strings.TrimSpace(strings.Join(pat.Name[0].Given, " ")+" "+pat.Name[0].Family))
	}
	latest := map[string]summaryItem{} // newest result per test
	byType := map[string][]summaryItem{}
	for _, st := range rs[1:] {
		it, ok := summaryItemOf(st)
		if !ok {
			continue
		}
		if st.Type == "Observation" {
			if old, seen := latest[it.Text]; !seen || it.At.After(old.At) {
				latest[it.Text] = it
			}
			continue
		}
		byType[st.Type] = append(byType[st.Type], it)
	}
	for _, it := range latest {
		byType["Observation"] = append(byType["Observation"], it)
	}
	for _, s := range summaryTypes {
		items := byType[s.typ]
		slices.SortFunc(items, func(a, b summaryItem) int {
			if c := b.At.Compare(a.At); c != 0 {
				return c
			}
			return strings.Compare(a.Text, b.Text)
		})
		page.Sections = append(page.Sections, summarySection{Key: s.key, Items: items})
	}
	p.page(w, r, u, http.StatusOK, "summary", u.l.T("summary.title"), page, nil)
}

// summaryItemOf reads the line of the summary of one resource.
func summaryItemOf(st *fhir.Stored) (summaryItem, bool) {
	var v struct {
		Status         string `json:"status"`
		ClinicalStatus struct {
			Coding []struct{ Code string } `json:"coding"`
		} `json:"clinicalStatus"`
		Code                      concept `json:"code"`
		MedicationCodeableConcept concept `json:"medicationCodeableConcept"`
		VaccineCode               concept `json:"vaccineCode"`
		Description               string  `json:"description"`
		ValueQuantity             *struct {
			Value *float64 `json:"value"`
			Unit  string   `json:"unit"`
		} `json:"valueQuantity"`
		ValueString       string `json:"valueString"`
		EffectiveDateTime string `json:"effectiveDateTime"`
		OnsetDateTime     string `json:"onsetDateTime"`
		AuthoredOn        string `json:"authoredOn"`
		OccurrenceDate    string `json:"occurrenceDateTime"`
		RecordedDate      string `json:"recordedDate"`
		Start             string `json:"start"`
	}
	if json.Unmarshal(st.JSON, &v) != nil || v.Status == "entered-in-error" {
		return summaryItem{}, false
	}
	it := summaryItem{At: firstTime(v.EffectiveDateTime, v.OnsetDateTime, v.AuthoredOn, v.OccurrenceDate, v.RecordedDate, v.Start)}
	switch st.Type {
	case "Condition":
		if len(v.ClinicalStatus.Coding) > 0 && v.ClinicalStatus.Coding[0].Code != "active" {
			return it, false
		}
		it.Text = v.Code.text()
	case "MedicationRequest":
		if v.Status != "active" {
			return it, false
		}
		it.Text = v.MedicationCodeableConcept.text()
	case "AllergyIntolerance":
		it.Text = v.Code.text()
	case "Immunization":
		it.Text = v.VaccineCode.text()
	case "Observation":
		it.Text = v.Code.text()
		switch {
		case v.ValueQuantity != nil && v.ValueQuantity.Value != nil:
			it.Detail = strings.TrimSpace(number(*v.ValueQuantity.Value) + " " + v.ValueQuantity.Unit)
		case v.ValueString != "":
			it.Detail = v.ValueString
		default:
			return it, false
		}
	case "Appointment":
		if v.Status != "booked" {
			return it, false
		}
		it.Text = v.Description
	default:
		return it, false
	}
	return it, it.Text != ""
}

type concept struct {
	Text   string `json:"text"`
	Coding []struct {
		Display string `json:"display"`
	} `json:"coding"`
}

func (c concept) text() string {
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	return ""
}
