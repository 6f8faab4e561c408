package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Rates that shape orders and results.
const (
	recentVisitShare = 0.15 // patients with an extra visit in the last recentDays
	recentDays       = 3    //
	cancelShare      = 0.02 // orders revoked before collection
	amendShare       = 0.02 // final reports later amended
	criticalShare    = 0.01 // orders with one injected critical value
	labLaterShare    = 0.22 // orders whose specimen is collected days after the visit
)

var (
	acuteReasons = []string{
		"Fatigue", "Abdominal pain", "Fever", "Dizziness", "Shortness of breath",
		"Painful urination", "Unintentional weight loss", "Palpitations", "Headache", "Nausea and vomiting",
	}
	cancelReasons = []string{
		"Duplicate order", "Ordered in error", "Patient declined the test", "No longer clinically indicated",
	}
)

// orderPlan is one panel to order at a visit and why.
type orderPlan struct {
	panel  *panel
	conds  []int  // indexes into conditions
	reason string // free-text reason when conds is empty
}

// visitState holds the values drawn at one visit, so that panels ordered
// together agree (a glucose in a metabolic panel and glucose in urine).
type visitState struct {
	at   time.Time
	age  int
	vals map[string]float64
}

func (b *patientBuilder) labs() {
	if b.showcase {
		b.showcaseLabs()
		return
	}
	g := b.g
	rate := 0.0
	switch {
	case b.age < 1:
		rate = 0
	case b.age < 18:
		rate = 0.35
	case b.age < 40:
		rate = 0.8
	case b.age < 65:
		rate = 1.1
	default:
		rate = 1.6
	}
	for k, c := range conditions {
		if b.conds[k] {
			rate += c.VisitsPerYear
		}
	}
	n := poisson(b.r, rate*float64(g.cfg.Months)/12)
	times := make([]time.Time, 0, n+1)
	for range n {
		times = append(times, b.clinicTime(g.start, g.anchor))
	}
	if b.age >= 1 && b.chance(recentVisitShare) {
		from := g.anchor.AddDate(0, 0, -recentDays)
		if from.Before(g.start) {
			from = g.start
		}
		times = append(times, b.clinicTime(from, g.anchor))
	}
	slices.SortFunc(times, time.Time.Compare)

	k := 0
	for v, t := range times {
		vs := &visitState{at: t, age: ageOn(b.birth, t), vals: map[string]float64{}}
		for _, plan := range b.choosePanels(vs.age, v == 0) {
			b.order(k, vs, plan)
			k++
		}
	}
}

// clinicTime returns a random instant in [from, to] that falls in clinic
// hours (every day 14:00 to 01:00 UTC, roughly 8 or 9 a.m. to 7 or 8 p.m. in
// Chicago: the clinic keeps extended hours), or any instant in the range if
// it has none.
func (b *patientBuilder) clinicTime(from, to time.Time) time.Time {
	span := int64(to.Sub(from) / time.Minute)
	if span <= 0 {
		return from
	}
	var t time.Time
	for range 50 {
		t = from.Add(time.Duration(b.r.Int64N(span+1)) * time.Minute)
		if h := t.Hour(); h >= 14 || h < 1 {
			break
		}
	}
	return t
}

// choosePanels decides what is ordered at a visit of a patient aged age.
func (b *patientBuilder) choosePanels(age int, first bool) []orderPlan {
	want := make([]bool, len(panels))
	conds := make([][]int, len(panels))
	reason := ""
	set := func(key string, cond int) {
		for i := range panels {
			if panels[i].Key == key {
				want[i] = true
				if cond >= 0 && !slices.Contains(conds[i], cond) {
					conds[i] = append(conds[i], cond)
				}
			}
		}
	}
	hasCond := false
	for _, c := range b.conds {
		hasCond = hasCond || c
	}
	switch {
	case age < 1:
		return nil
	case age < 18:
		if b.chance(0.5) {
			reason = "Well-child visit"
		} else {
			reason = pickOne(b.r, acuteReasons)
		}
		if b.chance(0.5) {
			set("cbc", -1)
		}
		if b.chance(0.4) {
			set("ua", -1)
		}
		if (age == 10 || age == 11 || age == 17) && b.chance(0.7) {
			set("lipid", -1)
		}
		if !slices.Contains(want, true) {
			set("cbc", -1)
		}
	case hasCond && b.chance(0.6):
		for k := range conditions {
			if !b.conds[k] {
				continue
			}
			switch k {
			case condDiabetes:
				set("hba1c", k)
				if b.chance(0.3) {
					set("cmp", k)
				} else {
					set("bmp", k)
				}
				if b.chance(0.25) {
					set("ua", k)
				}
				if b.chance(0.3) {
					set("lipid", k)
				}
			case condCKD:
				set("bmp", k)
				if b.chance(0.5) {
					set("cbc", k)
				}
				if b.chance(0.4) {
					set("ua", k)
				}
			case condHyperlipidemia:
				set("lipid", k)
				if b.chance(0.4) {
					set("cmp", k)
				}
			case condHypothyroidism:
				set("tsh", k)
			case condAnemia:
				set("cbc", k)
			case condLiver:
				set("cmp", k)
			}
		}
	case first || b.chance(0.4):
		reason = "Annual health maintenance examination"
		if b.chance(0.5) {
			set("cmp", -1)
		} else {
			set("bmp", -1)
		}
		if b.chance(0.7) {
			set("cbc", -1)
		}
		if age >= 20 && b.chance(0.8) {
			set("lipid", -1)
		}
		if age >= 35 && b.chance(0.35) {
			set("hba1c", -1)
		}
		if b.sex == female && age >= 35 && b.chance(0.25) {
			set("tsh", -1)
		}
		if b.chance(0.15) {
			set("ua", -1)
		}
	default:
		reason = pickOne(b.r, acuteReasons)
		if b.chance(0.6) {
			set("cbc", -1)
		}
		if b.chance(0.45) {
			set("bmp", -1)
		}
		if b.chance(0.3) || reason == "Painful urination" {
			set("ua", -1)
		}
		if !slices.Contains(want, true) {
			set("cbc", -1)
		}
	}
	// A comprehensive panel includes the basic one.
	bmp, cmp := slices.IndexFunc(panels, isKey("bmp")), slices.IndexFunc(panels, isKey("cmp"))
	if want[bmp] && want[cmp] {
		want[bmp] = false
		for _, c := range conds[bmp] {
			if !slices.Contains(conds[cmp], c) {
				conds[cmp] = append(conds[cmp], c)
			}
		}
	}
	var plans []orderPlan
	for i := range panels {
		if want[i] {
			slices.Sort(conds[i])
			plans = append(plans, orderPlan{panel: &panels[i], conds: conds[i], reason: reason})
		}
	}
	return plans
}

func isKey(k string) func(panel) bool { return func(p panel) bool { return p.Key == k } }

// result is one analyte's reported value.
type result struct {
	a      *analyte
	iv     interval // for quantitative analytes
	value  string   // reported value, rounded
	num    float64  // value parsed back
	pos    bool     // for presence analytes
	interp string   // v3 ObservationInterpretation code
}

// labOrder is one laboratory order as its resources state it at Anchor.
type labOrder struct {
	k         int // the order's number within the patient's record
	panel     *panel
	conds     []int  // indexes into conditions: the reasons for the order
	reason    string // free-text reason when conds is empty
	priority  string
	requester int // index into g.staff

	authored, collected, received time.Time
	// released is when the report (and its results) were issued.
	released time.Time
	// status is the report's status at Anchor ("preliminary", "final" or
	// "amended"), or "" when there is no specimen yet (cancelled, or not
	// collected) and "pending" when the specimen is in the laboratory but
	// nothing is reported.
	status       string
	cancelled    bool
	cancelReason string
	results      []result

	amended   int // index into results of the corrected result, or -1
	amendAt   time.Time
	amendNote string

	// conclusion is the report's conclusion; interpreter, when not -1, is
	// the index into g.staff of the clinician who wrote it.
	conclusion  string
	interpreter int
}

// order writes the resources of order number k placed at visit vs.
func (b *patientBuilder) order(k int, vs *visitState, plan orderPlan) {
	g, r := b.g, b.r
	p := plan.panel
	o := &labOrder{k: k, panel: p, conds: plan.conds, reason: plan.reason, amended: -1, interpreter: -1}

	// Timeline.
	o.authored = minTime(vs.at.Add(time.Duration(3+r.IntN(28))*time.Minute), g.anchor)
	o.priority = "routine"
	switch x := r.IntN(100); {
	case x < 1:
		o.priority = "stat"
	case x < 5:
		o.priority = "urgent"
	}
	o.requester = b.gp
	if r.IntN(100) < 20 {
		o.requester = pickOne(r, g.physicians)
	}
	o.cancelled = b.chance(cancelShare)
	o.cancelReason = pickOne(r, cancelReasons)
	o.collected = o.authored.Add(time.Duration(5+r.IntN(40)) * time.Minute)
	if b.chance(labLaterShare) {
		o.collected = o.authored.Add(time.Duration(18*60+r.IntN(54*60)) * time.Minute)
	}
	o.received = o.collected.Add(time.Duration(10+r.IntN(80)) * time.Minute)
	tat := p.TATMin + (p.TATMax-p.TATMin)*r.Float64()
	final := o.collected.Add(hours(tat))
	// A preliminary report goes out at the usual turnaround; the final one
	// follows after review (a smear, a repeat, a pathologist's sign-off).
	prelim := b.chance(p.Prelim)
	prelimAt := final
	if prelim {
		final = prelimAt.Add(hours(6 + 30*r.Float64()))
	}
	amend := b.chance(amendShare)
	o.amendAt = final.Add(hours(6 + 66*r.Float64()))

	// Results are drawn whatever the status, so that the random stream does
	// not depend on Anchor-relative timing.
	o.results = b.results(vs, p)

	o.status, o.released = "final", final
	switch {
	case o.cancelled || o.collected.After(g.anchor):
		o.status = ""
	case prelim && g.anchor.Before(prelimAt), !prelim && g.anchor.Before(final):
		o.status = "pending"
	case prelim && g.anchor.Before(final):
		o.status, o.released = "preliminary", prelimAt
	case amend && !o.amendAt.After(g.anchor):
		o.status = "amended"
	}
	if o.status == "amended" {
		var quant []int
		for j, res := range o.results {
			if res.a.Kind == quantitative {
				quant = append(quant, j)
			}
		}
		o.amended = pickOne(r, quant)
		res := o.results[o.amended]
		factor := 0.75 + 0.15*r.Float64()
		if r.IntN(2) == 0 {
			factor = 1.1 + 0.2*r.Float64()
		}
		before := strconv.FormatFloat(res.num*factor, 'f', res.a.Decimals, 64)
		o.amendNote = fmt.Sprintf("Corrected result. Previously reported as %s on %s.", trimJoin(before, res.a.Unit), ts(final))
		o.conclusion = "Amended report: " + res.a.Text + " corrected."
	}
	b.emitOrder(o)
}

// orderIDs returns the ids of the ServiceRequest, Specimen and
// DiagnosticReport of order number k of patient i.
func (g *Generator) orderIDs(i, k int) (sr, spec, dr string) {
	key := strconv.Itoa(i) + "/" + strconv.Itoa(k)
	return g.id("ServiceRequest/" + key), g.id("Specimen/" + key), g.id("DiagnosticReport/" + key)
}

// observationID returns the id of the result of analyte a in order number
// k of patient i.
func (g *Generator) observationID(i, k int, a *analyte) string {
	return g.id("Observation/" + strconv.Itoa(i) + "/" + strconv.Itoa(k) + "/" + a.Key)
}

// emitOrder writes the resources of o that exist at Anchor: the
// ServiceRequest always, then the Specimen once collected, then the
// Observations and the DiagnosticReport once reported.
func (b *patientBuilder) emitOrder(o *labOrder) {
	g := b.g
	p := o.panel
	srID, specID, drID := g.orderIDs(b.i, o.k)

	sr := serviceRequestJSON{
		ResourceType: "ServiceRequest",
		ID:           srID,
		Identifier: []identifier{{
			Type:   &codeableConcept{Coding: []coding{{System: systemIdentifierType, Code: "PLAC", Display: "Placer Identifier"}}},
			System: systemOrderNumber,
			Value:  fmt.Sprintf("ORD-%06d-%03d", b.i+1, o.k+1),
		}},
		Status:     "completed",
		Intent:     "order",
		Category:   []codeableConcept{concept(systemSNOMED, "108252007", "Laboratory procedure")},
		Priority:   o.priority,
		Code:       codeableConcept{Coding: []coding{{System: systemLOINC, Code: p.Code, Display: p.Display}}, Text: p.Text},
		Subject:    b.ref,
		AuthoredOn: ts(o.authored),
		Requester:  ref("Practitioner", g.staff[o.requester].info.ID),
		Performer:  []reference{*ref("Organization", g.orgID)},
	}
	for _, c := range o.conds {
		sr.ReasonReference = append(sr.ReasonReference, *ref("Condition", b.conditionID(c)))
	}
	if len(o.conds) == 0 && o.reason != "" {
		sr.ReasonCode = []codeableConcept{{Text: o.reason}}
	}
	switch {
	case o.cancelled:
		sr.Status = "revoked"
		sr.Note = []annotation{{Text: "Order cancelled: " + o.cancelReason + "."}}
	case o.status == "", o.status == "pending", o.status == "preliminary":
		sr.Status = "active"
	}
	b.add("ServiceRequest", srID, sr)
	if o.status == "" {
		return
	}

	// Specimen.
	spec := specimenJSON{
		ResourceType: "Specimen",
		ID:           specID,
		AccessionIdentifier: &identifier{
			System: systemAccession,
			Value:  fmt.Sprintf("L%s-%06d-%03d", o.collected.Format("060102"), b.i+1, o.k+1),
		},
		Status:     "available",
		Type:       codeableConcept{Coding: []coding{{System: systemSNOMED, Code: p.Specimen.Code, Display: p.Specimen.Display}}},
		Subject:    b.ref,
		Request:    []reference{*ref("ServiceRequest", srID)},
		Collection: specimenCollection{CollectedDateTime: ts(o.collected)},
	}
	if !o.received.After(g.anchor) {
		spec.ReceivedTime = ts(o.received)
	}
	switch {
	case g.labTech >= 0:
		spec.Collection.Collector = ref("Practitioner", g.staff[g.labTech].info.ID)
	case g.nurse >= 0:
		spec.Collection.Collector = ref("Practitioner", g.staff[g.nurse].info.ID)
	}
	b.add("Specimen", specID, spec)
	if o.status == "pending" {
		return
	}

	// Observations.
	performers := []reference{*ref("Organization", g.orgID)}
	if g.labTech >= 0 {
		performers = append(performers, *ref("Practitioner", g.staff[g.labTech].info.ID))
	}
	obsStatus := o.status
	if o.status == "amended" {
		obsStatus = "final"
	}
	var resultRefs []reference
	for j, res := range o.results {
		obsID := g.observationID(b.i, o.k, res.a)
		resultRefs = append(resultRefs, *ref("Observation", obsID))
		ob := observationJSON{
			ResourceType:      "Observation",
			ID:                obsID,
			BasedOn:           []reference{*ref("ServiceRequest", srID)},
			Status:            obsStatus,
			Category:          []codeableConcept{concept(systemObsCategory, "laboratory", "Laboratory")},
			Code:              codeableConcept{Coding: []coding{{System: systemLOINC, Code: res.a.Code, Display: res.a.Display}}, Text: res.a.Text},
			Subject:           b.ref,
			EffectiveDateTime: ts(o.collected),
			Issued:            ts(o.released),
			Performer:         performers,
			Interpretation:    []codeableConcept{interpretationConcept(res.interp)},
			Specimen:          ref("Specimen", specID),
		}
		if j == o.amended {
			ob.Status = "amended"
			ob.Issued = ts(o.amendAt)
			ob.Note = []annotation{{Time: ts(o.amendAt), Text: o.amendNote}}
		}
		switch res.a.Kind {
		case quantitative:
			ob.ValueQuantity = &quantity{Value: numberJSON(res.value), Unit: res.a.Unit, System: systemUCUM, Code: res.a.UCUM}
			ob.ReferenceRange = []referenceRange{quantityRange(res.a, res.iv)}
		case presence:
			v := concept(systemSNOMED, "260385009", "Negative")
			if res.pos {
				v = concept(systemSNOMED, "10828004", "Positive")
			}
			v.Text = v.Coding[0].Display
			ob.ValueCodeableConcept = &v
			ob.ReferenceRange = []referenceRange{{Type: normalRange(), Text: "Negative"}}
		}
		b.add("Observation", obsID, ob)
	}

	// DiagnosticReport.
	dr := diagnosticReportJSON{
		ResourceType:      "DiagnosticReport",
		ID:                drID,
		BasedOn:           []reference{*ref("ServiceRequest", srID)},
		Status:            o.status,
		Category:          []codeableConcept{concept(systemDiagService, "LAB", "Laboratory")},
		Code:              codeableConcept{Coding: []coding{{System: systemLOINC, Code: p.Code, Display: p.Display}}, Text: p.Text},
		Subject:           b.ref,
		EffectiveDateTime: ts(o.collected),
		Issued:            ts(o.released),
		Performer:         performers,
		Specimen:          []reference{*ref("Specimen", specID)},
		Result:            resultRefs,
		Conclusion:        o.conclusion,
	}
	if o.status == "amended" {
		dr.Issued = ts(o.amendAt)
	}
	if o.interpreter >= 0 {
		dr.ResultsInterpreter = []reference{*ref("Practitioner", g.staff[o.interpreter].info.ID)}
	}
	b.add("DiagnosticReport", drID, dr)
}

// results draws the values of panel p at visit vs, rounds and interprets them.
func (b *patientBuilder) results(vs *visitState, p *panel) []result {
	out := make([]result, 0, len(p.Analytes))
	for _, key := range p.Analytes {
		a := &catalogue[analyteIndex[key]]
		res := result{a: a}
		switch a.Kind {
		case presence:
			res.pos = b.present(vs, key)
			res.interp = "N"
			if res.pos {
				res.interp = "A"
			}
		case quantitative:
			iv, ok := a.interval(b.sex, vs.age)
			if !ok {
				panic(fmt.Sprintf("demo: no reference interval for %s at age %d", key, vs.age))
			}
			res.iv = iv
			res.num = b.value(vs, key)
		}
		out = append(out, res)
	}
	// Now and then a critical value, as real clinics see.
	if b.chance(criticalShare) {
		var cand []int
		for j, res := range out {
			if res.a.Kind == quantitative && (res.a.CritLow != open || res.a.CritHigh != open) {
				cand = append(cand, j)
			}
		}
		if len(cand) > 0 {
			j := pickOne(b.r, cand)
			a := out[j].a
			high := a.CritHigh != open && (a.CritLow == open || b.r.IntN(2) == 0)
			if high {
				out[j].num = a.CritHigh * (1.03 + 0.15*b.r.Float64())
			} else {
				out[j].num = a.CritLow * (0.8 + 0.17*b.r.Float64())
			}
		}
	}
	return reported(p, out)
}

// reported finishes the results of panel p as the laboratory reports them:
// a lipid panel's total cholesterol is the sum of its reported parts
// (Friedewald) and its calculated LDL is left out when triglycerides
// exceed 400 mg/dL; every quantitative value is rounded to its reported
// digits and interpreted.
func reported(p *panel, out []result) []result {
	if p.Key == "lipid" {
		get := func(k string) *result {
			for j := range out {
				if out[j].a.Key == k {
					return &out[j]
				}
			}
			panic("demo: lipid panel lacks " + k)
		}
		ldl, hdl, trig := get("ldl"), get("hdl"), get("trig")
		ldl.num, hdl.num, trig.num = math.Round(ldl.num), math.Round(hdl.num), math.Round(trig.num)
		get("chol").num = ldl.num + hdl.num + math.Round(trig.num/5)
		if trig.num > 400 {
			out = slices.DeleteFunc(out, func(r result) bool { return r.a.Key == "ldl" })
		}
	}
	for j := range out {
		res := &out[j]
		if res.a.Kind != quantitative {
			continue
		}
		floor := math.Pow(10, -float64(res.a.Decimals))
		res.value = strconv.FormatFloat(math.Max(res.num, floor), 'f', res.a.Decimals, 64)
		res.num, _ = strconv.ParseFloat(res.value, 64)
		res.interp = interpret(res.num, res.a, res.iv)
	}
	return out
}

// value returns the unrounded value of analyte key at visit vs, drawing it
// on first use.
func (b *patientBuilder) value(vs *visitState, key string) float64 {
	if v, ok := vs.vals[key]; ok {
		return v
	}
	var v float64
	switch key {
	case "hct":
		v = b.value(vs, "hgb")*2.95 + float64(0.8*b.r.NormFloat64())
	case "rbc":
		v = b.value(vs, "hct") * 10 / b.value(vs, "mcv")
	case "chol":
		v = b.value(vs, "ldl") + b.value(vs, "hdl") + b.value(vs, "trig")/5
	default:
		v = b.draw(vs, key)
	}
	vs.vals[key] = v
	return v
}

// draw draws a fresh value of analyte key for this person at visit vs.
func (b *patientBuilder) draw(vs *visitState, key string) float64 {
	idx := analyteIndex[key]
	a := &catalogue[idx]
	iv, ok := a.interval(b.sex, vs.age)
	if !ok {
		panic(fmt.Sprintf("demo: no reference interval for %s at age %d", key, vs.age))
	}
	mean, sd := iv.Mean, iv.SD
	c := b.conds
	switch key {
	case "glucose":
		if c[condDiabetes] {
			mean, sd = 160, 42
		}
	case "hba1c":
		if c[condDiabetes] {
			mean, sd = 7.5, 1.1
		}
	case "creatinine":
		if c[condCKD] {
			mean, sd = 1.75, 0.45
			if b.sex == female {
				mean = 1.5
			}
		}
	case "bun":
		if c[condCKD] {
			mean, sd = 30, 8
		}
	case "potassium":
		if c[condCKD] {
			mean, sd = 4.8, 0.42
		}
	case "co2":
		if c[condCKD] {
			mean = 22.5
		}
	case "albumin":
		if c[condCKD] {
			mean -= 0.2
		}
	case "hgb":
		if c[condCKD] {
			mean -= 1.6
		}
		if c[condAnemia] {
			mean, sd = 10.2, 0.7
		}
	case "mcv":
		if c[condAnemia] {
			mean, sd = 74, 3.5
		}
	case "ldl":
		if c[condHyperlipidemia] {
			mean, sd = 160, 28
		}
	case "trig":
		if c[condHyperlipidemia] {
			mean, sd = 200, 70
		} else if c[condDiabetes] {
			mean, sd = 165, 55
		}
	case "hdl":
		if c[condHyperlipidemia] || c[condDiabetes] {
			mean -= 5
		}
	case "tsh":
		if c[condHypothyroidism] {
			mean, sd = 4.6, 2.6
		}
	case "alt":
		if c[condLiver] {
			mean, sd = 68, 26
		}
	case "ast":
		if c[condLiver] {
			mean, sd = 50, 17
		}
	}
	w := a.Personal
	z := float64(w*b.personal[idx]) + float64(math.Sqrt(1-w*w)*b.r.NormFloat64())
	if a.LogNormal {
		s2 := math.Log(1 + float64(sd*sd)/float64(mean*mean))
		mu := math.Log(mean) - s2/2
		return math.Exp(mu + float64(math.Sqrt(s2)*z))
	}
	return mean + float64(sd*z)
}

// present reports whether a presence test (urine dipstick) is positive.
func (b *patientBuilder) present(vs *visitState, key string) bool {
	switch key {
	case "ua-glucose":
		// Glucose spills into urine above the renal threshold.
		return b.value(vs, "glucose") > 180
	case "ua-protein":
		if b.conds[condCKD] {
			return b.chance(0.55)
		}
		return b.chance(0.04)
	case "ua-ketones":
		if b.conds[condDiabetes] && b.value(vs, "glucose") > 300 {
			return b.chance(0.4)
		}
		return b.chance(0.02)
	}
	panic("demo: unknown presence test " + key)
}

// interpret returns the v3 ObservationInterpretation code for value v of
// analyte a given reference interval iv: LL or HH beyond a critical limit,
// L or H outside the interval, N otherwise.
func interpret(v float64, a *analyte, iv interval) string {
	switch {
	case a.CritLow != open && v < a.CritLow:
		return "LL"
	case a.CritHigh != open && v > a.CritHigh:
		return "HH"
	case iv.Low != open && v < iv.Low:
		return "L"
	case iv.High != open && v > iv.High:
		return "H"
	}
	return "N"
}

var interpretationDisplay = map[string]string{
	"N":  "Normal",
	"L":  "Low",
	"H":  "High",
	"LL": "Critical low",
	"HH": "Critical high",
	"A":  "Abnormal",
}

func interpretationConcept(code string) codeableConcept {
	c := concept(systemInterpretation, code, interpretationDisplay[code])
	c.Text = interpretationDisplay[code]
	return c
}

func normalRange() codeableConcept {
	return concept(systemRefMeaning, "normal", "Normal Range")
}

// quantityRange returns the FHIR referenceRange for interval iv of analyte a.
func quantityRange(a *analyte, iv interval) referenceRange {
	q := func(v float64) *quantity {
		return &quantity{Value: numberJSON(strconv.FormatFloat(v, 'f', a.Decimals, 64)), Unit: a.Unit, System: systemUCUM, Code: a.UCUM}
	}
	rr := referenceRange{Type: normalRange()}
	unit := ""
	if a.Unit != "" && a.Unit != "pH" {
		unit = " " + a.Unit
	}
	switch {
	case iv.Low != open && iv.High != open:
		rr.Low, rr.High = q(iv.Low), q(iv.High)
		rr.Text = string(rr.Low.Value) + "-" + string(rr.High.Value) + unit
	case iv.Low != open:
		rr.Low = q(iv.Low)
		rr.Text = ">=" + string(rr.Low.Value) + unit
	case iv.High != open:
		rr.High = q(iv.High)
		rr.Text = "<=" + string(rr.High.Value) + unit
	}
	who := ""
	switch iv.Sex {
	case male:
		who = "male"
	case female:
		who = "female"
	}
	switch {
	case iv.MinAge >= adultAge:
		who = trimJoin("adult", who)
	case iv.MaxAge > 0:
		who = trimJoin(who, fmt.Sprintf("age %d-%d years", iv.MinAge, iv.MaxAge))
	}
	if who != "" {
		rr.Text += " (" + who + ")"
	}
	if iv.MinAge > 0 || iv.MaxAge > 0 {
		rr.Age = &rangeQ{Low: ageQuantity(iv.MinAge)}
		if iv.MaxAge > 0 {
			rr.Age.High = ageQuantity(iv.MaxAge)
		}
	}
	return rr
}

func trimJoin(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

func ageQuantity(years int) *quantity {
	return &quantity{Value: numberJSON(strconv.Itoa(years)), Unit: "years", System: systemUCUM, Code: "a"}
}

// poisson returns a Poisson-distributed count with mean lambda (Knuth's
// method, fine for the small means used here).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l := math.Exp(-lambda)
	k := 0
	for p := r.Float64(); p > l; p *= r.Float64() {
		k++
	}
	return k
}

func hours(h float64) time.Duration {
	return time.Duration(h * float64(time.Hour)).Truncate(time.Second)
}

func minTime(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}

// ts formats an instant as FHIR dateTime/instant.
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }
