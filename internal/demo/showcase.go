package demo

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// ShowcasePatient is the index of the showcase patient: the demo patient
// who signs in as patient@example.com. Their record is written to show
// every page of the patient portal at its best (see Showcase); their name,
// address and contacts are drawn like everyone else's.
const ShowcasePatient = 0

// Showcase names the showcase patient's resources, each as "Type/id".
//
// The showcase patient is an adult aged 50 to 62 at Anchor, speaking
// English, with type 2 diabetes and hyperlipidemia, contacts by e-mail then
// SMS in the clinic's time zone, and messages without health information.
// Their record holds, instead of randomly drawn visits:
//
//   - four earlier visits, about 22, 16, 10 and 4 months before the recent
//     one, each with a final hemoglobin A1c (6.2, 6.6, 7.0 and 7.5 %) and
//     other panels, all older than 30 days: imported history to the
//     journeys;
//   - a recent visit 3 to 5 days before Anchor, on a weekday, with a
//     complete blood count, all normal (NormalReport); a basic metabolic
//     panel with a critical potassium of 6.4 mmol/L (CriticalReport); and a
//     hemoglobin A1c of 8.1 %, high (AbnormalReport); all final, issued
//     between one and six days before Anchor;
//   - the clinician's comment for the patient in the conclusion of the
//     critical and the abnormal report, with the clinician as
//     resultsInterpreter;
//   - a completed Communication: the clinician's telephone call to the
//     patient about the critical result, about its report (PhoneCall);
//   - a follow-up visit recommended for the A1c result (FollowUpOrder: an
//     active ServiceRequest, SNOMED CT 390906007 "Follow-up encounter",
//     reasonReference the A1c report, performer the clinician);
//   - a lipid panel ordered at the recent visit, its specimen collected on
//     the last weekday before Anchor's day and no result yet
//     (WaitingOrder).
//
// Times of day are clinic hours in the clinic's time zone. The showcase's
// earlier visits reach back about two years whatever Config.Months says.
type Showcase struct {
	Patient   string // the Patient
	Clinician string // the Practitioner who is their general practitioner, ordered every test and wrote the comments

	NormalOrder, NormalReport     string // complete blood count, all normal
	CriticalOrder, CriticalReport string // basic metabolic panel, potassium critical high
	PhoneCall                     string // the Communication about the critical result
	AbnormalOrder, AbnormalReport string // hemoglobin A1c 8.1 %, high
	EarlierA1c                    []string
	FollowUpOrder                 string // the follow-up visit recommended for the A1c result
	WaitingOrder                  string // the lipid panel waiting for its result
}

// Showcase returns the names of the showcase patient's resources without
// generating their record.
func (g *Generator) Showcase() Showcase {
	i := ShowcasePatient
	order := func(k int) (string, string) {
		sr, _, dr := g.orderIDs(i, k)
		return "ServiceRequest/" + sr, "DiagnosticReport/" + dr
	}
	s := Showcase{
		Patient:       "Patient/" + g.id("Patient/"+strconv.Itoa(i)),
		Clinician:     "Practitioner/" + g.staff[g.showcaseGP()].info.ID,
		PhoneCall:     "Communication/" + g.id(phoneCallKey),
		FollowUpOrder: "ServiceRequest/" + g.id(followUpKey),
	}
	s.NormalOrder, s.NormalReport = order(scRecentCBC)
	s.CriticalOrder, s.CriticalReport = order(scRecentBMP)
	s.AbnormalOrder, s.AbnormalReport = order(scRecentA1c)
	s.WaitingOrder, _ = order(scWaitingLipid)
	for _, v := range showcaseVisits {
		for _, o := range v.orders {
			if v.monthsBefore > 0 && o.panel == "hba1c" {
				_, dr := order(o.k)
				s.EarlierA1c = append(s.EarlierA1c, dr)
			}
		}
	}
	return s
}

// showcaseGP returns the index into g.staff of the showcase patient's
// general practitioner. It draws the patient's demographics, which come
// first in the patient's random stream.
func (g *Generator) showcaseGP() int {
	b := newPatientBuilder(g, ShowcasePatient)
	b.demographics()
	return b.gp
}

// The showcase patient's age band and conditions.
var (
	showcaseAge        = ageBand{Lo: 50, Hi: 62}
	showcaseConditions = func() (c [numConditions]bool) {
		c[condDiabetes], c[condHyperlipidemia] = true, true
		return c
	}()
)

// Keys of the showcase's resources that are not laboratory orders.
const (
	phoneCallKey = "Communication/0/critical-result-call"
	followUpKey  = "ServiceRequest/0/follow-up"
)

// The showcase's order numbers. Orders are numbered in the order they were
// placed.
const (
	scRecentCBC    = 10
	scRecentBMP    = 11
	scRecentA1c    = 12
	scWaitingLipid = 13
	scFollowUp     = 14 // the follow-up visit's order number, for its placer identifier
)

// The showcase's messages for the patient.
const (
	criticalComment = "Your potassium level is too high. We called you the same day to talk about what to do next."
	abnormalComment = "Your A1c is higher than last time. Let's talk about your diabetes plan at a follow-up visit."
	phoneCallText   = "Telephone call about the high potassium result: explained what it means and agreed on the next steps."
)

// showcaseVisit is one visit of the showcase patient: when (local time),
// why, and what was ordered, with the values of the results that tell the
// showcase's story (the other values are typical for the patient).
type showcaseVisit struct {
	monthsBefore int // before the recent visit; 0 for the recent visit
	hour, minute int // local time of the visit
	reason       string
	orders       []showcaseOrder
}

type showcaseOrder struct {
	k      int
	panel  string // key into panels
	conds  []int
	values map[string]float64
	// tat is the time from collection to the final report.
	tat time.Duration
}

var showcaseVisits = []showcaseVisit{
	{monthsBefore: 22, hour: 10, minute: 10, reason: "Annual health maintenance examination", orders: []showcaseOrder{
		{k: 0, panel: "hba1c", values: map[string]float64{"hba1c": 6.2}, tat: 19 * time.Hour},
		{k: 1, panel: "lipid", conds: []int{condHyperlipidemia}, values: map[string]float64{"ldl": 151}, tat: 6 * time.Hour},
	}},
	{monthsBefore: 16, hour: 8, minute: 50, reason: "Follow-up of prediabetes", orders: []showcaseOrder{
		{k: 2, panel: "hba1c", values: map[string]float64{"hba1c": 6.6}, tat: 22 * time.Hour},
		{k: 3, panel: "bmp", values: map[string]float64{"glucose": 143, "potassium": 4.4}, tat: 3 * time.Hour},
	}},
	{monthsBefore: 10, hour: 11, minute: 30, orders: []showcaseOrder{
		{k: 4, panel: "hba1c", conds: []int{condDiabetes}, values: map[string]float64{"hba1c": 7.0}, tat: 20 * time.Hour},
		{k: 5, panel: "bmp", conds: []int{condDiabetes}, values: map[string]float64{"glucose": 152, "potassium": 4.7}, tat: 4 * time.Hour},
		{k: 6, panel: "lipid", conds: []int{condHyperlipidemia}, values: map[string]float64{"ldl": 138}, tat: 7 * time.Hour},
	}},
	{monthsBefore: 4, hour: 9, minute: 40, orders: []showcaseOrder{
		{k: 7, panel: "hba1c", conds: []int{condDiabetes}, values: map[string]float64{"hba1c": 7.5}, tat: 21 * time.Hour},
		{k: 8, panel: "bmp", conds: []int{condDiabetes}, values: map[string]float64{"glucose": 171, "potassium": 4.9}, tat: 3 * time.Hour},
		{k: 9, panel: "cbc", conds: []int{condDiabetes}, tat: 2 * time.Hour},
	}},
	{monthsBefore: 0, hour: 9, minute: 20, reason: "Fatigue", orders: []showcaseOrder{
		{k: scRecentCBC, panel: "cbc", tat: 100 * time.Minute},
		{k: scRecentBMP, panel: "bmp", conds: []int{condDiabetes}, values: map[string]float64{"glucose": 188, "potassium": 6.4}, tat: 205 * time.Minute},
		{k: scRecentA1c, panel: "hba1c", conds: []int{condDiabetes}, values: map[string]float64{"hba1c": 8.1}, tat: 20*time.Hour + 40*time.Minute},
		{k: scWaitingLipid, panel: "lipid", conds: []int{condHyperlipidemia}},
	}},
}

// showcaseDays returns the local days of the showcase's recent visit and
// of the collection of its waiting lipid panel: the specimen was collected
// on the last weekday before Anchor's day, the visit was two weekdays
// before that (3 to 5 days before Anchor).
func (g *Generator) showcaseDays() (visit, fasting time.Time) {
	a := g.anchor.In(clinicZone)
	today := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, clinicZone)
	fasting = previousWeekday(today)
	visit = previousWeekday(previousWeekday(fasting))
	return visit, fasting
}

// showcaseVisitDay returns the local day of showcase visit v.
func (g *Generator) showcaseVisitDay(v showcaseVisit) time.Time {
	recent, _ := g.showcaseDays()
	if v.monthsBefore == 0 {
		return recent
	}
	d := recent.AddDate(0, -v.monthsBefore, 0)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// showcaseOnset returns when the showcase patient's condition k began: the
// diabetes was diagnosed at the second visit (A1c 6.6 %), the
// hyperlipidemia three years before the first.
func (g *Generator) showcaseOnset(k int) time.Time {
	switch k {
	case condDiabetes:
		return g.showcaseVisitDay(showcaseVisits[1])
	default:
		return g.showcaseVisitDay(showcaseVisits[0]).AddDate(-3, 0, 0)
	}
}

// previousWeekday returns the last Monday to Friday before day.
func previousWeekday(day time.Time) time.Time {
	d := day.AddDate(0, 0, -1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// atLocal returns the instant of hour:minute on local day d, in UTC.
func atLocal(d time.Time, hour, minute int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), hour, minute, 0, 0, clinicZone).UTC()
}

// showcaseLabs writes the showcase patient's orders and results, the
// telephone call about the critical result and the follow-up order.
func (b *patientBuilder) showcaseLabs() {
	g := b.g
	_, fasting := g.showcaseDays()
	var critical, abnormal *labOrder
	for _, v := range showcaseVisits {
		at := atLocal(g.showcaseVisitDay(v), v.hour, v.minute)
		vs := &visitState{at: at, age: ageOn(b.birth, at), vals: map[string]float64{}}
		for n, so := range v.orders {
			p := &panels[panelIndex(so.panel)]
			o := &labOrder{k: so.k, panel: p, conds: so.conds, reason: v.reason, priority: "routine",
				requester: b.gp, amended: -1, interpreter: -1, status: "final"}
			o.authored = at.Add(time.Duration(4+3*n) * time.Minute)
			o.collected = o.authored.Add(14 * time.Minute)
			if so.k == scWaitingLipid {
				// Ordered fasting: the patient came back for the draw.
				o.collected = atLocal(fasting, 8, 10)
				o.status = "pending"
			}
			o.received = o.collected.Add(25 * time.Minute)
			o.released = o.collected.Add(so.tat)
			if o.status == "final" {
				o.results = b.showcaseResults(vs, p, so.values)
			}
			switch so.k {
			case scRecentBMP:
				o.conclusion, o.interpreter = criticalComment, b.gp
				critical = o
			case scRecentA1c:
				o.conclusion, o.interpreter = abnormalComment, b.gp
				abnormal = o
			}
			b.emitOrder(o)
		}
	}
	// What the clinician did about the results, in the order they did it.
	b.phoneCall(critical)
	b.followUp(abnormal)
}

// panelIndex returns the index of the panel with the key.
func panelIndex(key string) int {
	for i := range panels {
		if panels[i].Key == key {
			return i
		}
	}
	panic("demo: no panel " + key)
}

// showcaseResults returns the results of panel p at visit vs: the values
// given, and typical values for the others, rounded and interpreted.
func (b *patientBuilder) showcaseResults(vs *visitState, p *panel, values map[string]float64) []result {
	for _, key := range p.Analytes { // in panel order, so that the stream is stable
		if v, ok := values[key]; ok {
			vs.vals[key] = v
		}
	}
	out := make([]result, 0, len(p.Analytes))
	for _, key := range p.Analytes {
		a := &catalogue[analyteIndex[key]]
		if a.Kind != quantitative {
			panic("demo: the showcase has no presence tests")
		}
		iv, ok := a.interval(b.sex, vs.age)
		if !ok {
			panic(fmt.Sprintf("demo: no reference interval for %s at age %d", key, vs.age))
		}
		out = append(out, result{a: a, iv: iv, num: b.typical(vs, key)})
	}
	return reported(p, out)
}

// typical returns the value of analyte key at visit vs, drawing on first
// use a value well inside the person's reference interval (within half a
// standard deviation of its middle); the values derived from others
// (haematocrit, red cells, total cholesterol) are computed from them.
func (b *patientBuilder) typical(vs *visitState, key string) float64 {
	if v, ok := vs.vals[key]; ok {
		return v
	}
	var v float64
	switch key {
	case "hct":
		v = b.typical(vs, "hgb") * 2.95
	case "rbc":
		v = b.typical(vs, "hct") * 10 / b.typical(vs, "mcv")
	case "chol":
		v = b.typical(vs, "ldl") + b.typical(vs, "hdl") + b.typical(vs, "trig")/5
	default:
		a := &catalogue[analyteIndex[key]]
		iv, ok := a.interval(b.sex, vs.age)
		if !ok {
			panic(fmt.Sprintf("demo: no reference interval for %s at age %d", key, vs.age))
		}
		z := math.Max(-0.5, math.Min(0.5, b.r.NormFloat64()))
		v = iv.Mean + iv.SD*z
	}
	vs.vals[key] = v
	return v
}

// phoneCall writes the clinician's telephone call to the patient about
// the critical result of order o, 20 minutes after its report.
func (b *patientBuilder) phoneCall(o *labOrder) {
	g := b.g
	_, _, drID := g.orderIDs(b.i, o.k)
	id := g.id(phoneCallKey)
	b.add("Communication", id, communicationJSON{
		ResourceType: "Communication",
		ID:           id,
		Status:       "completed",
		Category:     []codeableConcept{concept(systemCommCategory, "notification", "Notification")},
		Priority:     "urgent",
		Medium:       []codeableConcept{concept(systemPartMode, "PHONE", "telephone")},
		Subject:      b.ref,
		About:        []reference{*ref("DiagnosticReport", drID)},
		Sent:         ts(o.released.Add(20 * time.Minute)),
		Recipient:    []reference{*b.ref},
		Sender:       ref("Practitioner", g.staff[b.gp].info.ID),
		Payload:      []communicationPayload{{ContentString: phoneCallText}},
	})
}

// followUp writes the follow-up visit the clinician recommended after
// reading the result of order o, two and a half hours after its report.
func (b *patientBuilder) followUp(o *labOrder) {
	g := b.g
	_, _, drID := g.orderIDs(b.i, o.k)
	id := g.id(followUpKey)
	gp := ref("Practitioner", g.staff[b.gp].info.ID)
	b.add("ServiceRequest", id, serviceRequestJSON{
		ResourceType: "ServiceRequest",
		ID:           id,
		Identifier: []identifier{{
			Type:   &codeableConcept{Coding: []coding{{System: systemIdentifierType, Code: "PLAC", Display: "Placer Identifier"}}},
			System: systemOrderNumber,
			Value:  fmt.Sprintf("ORD-%06d-%03d", b.i+1, scFollowUp+1),
		}},
		Status:          "active",
		Intent:          "order",
		Priority:        "routine",
		Code:            codeableConcept{Coding: []coding{{System: systemSNOMED, Code: "390906007", Display: "Follow-up encounter"}}, Text: "Follow-up visit"},
		Subject:         b.ref,
		AuthoredOn:      ts(o.released.Add(150 * time.Minute)),
		Requester:       gp,
		Performer:       []reference{*gp},
		ReasonReference: []reference{*ref("DiagnosticReport", drID)},
		Note:            []annotation{{Text: "Review the diabetes plan: hemoglobin A1c rising over two years."}},
	})
}
