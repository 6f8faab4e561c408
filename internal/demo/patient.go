package demo

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// condition is a chronic condition that shapes a patient's results and
// visits.
type condition struct {
	Key, Code, Display string // SNOMED CT
	VisitsPerYear      float64
}

var conditions = []condition{
	{"diabetes", "44054006", "Diabetes mellitus type 2", 2.0},
	{"hyperlipidemia", "55822004", "Hyperlipidemia", 0.5},
	{"ckd", "709044004", "Chronic kidney disease", 1.5},
	{"hypothyroidism", "40930008", "Hypothyroidism", 0.7},
	{"anemia", "87522002", "Iron deficiency anemia", 1.0},
	{"liver", "197321007", "Steatosis of liver", 0.5},
}

// Indexes into conditions.
const (
	condDiabetes = iota
	condHyperlipidemia
	condCKD
	condHypothyroidism
	condAnemia
	condLiver
	numConditions
)

// ageBand is a range of ages at Anchor with its share of patients (percent).
type ageBand struct{ Lo, Hi, Weight int }

var ageBands = []ageBand{
	{0, 4, 5}, {5, 17, 12}, {18, 34, 20}, {35, 49, 19}, {50, 64, 22}, {65, 79, 16}, {80, 95, 6},
}

// patientBuilder generates one patient. All randomness comes from r, drawn
// in a fixed order.
type patientBuilder struct {
	g   *Generator
	i   int
	r   *rand.Rand
	id  string
	ref *reference
	// showcase is set for the showcase patient (see ShowcasePatient).
	showcase bool

	sex    sex
	gender string
	age    int // at Anchor
	birth  time.Time
	lang   language
	group  nameGroup
	given  []string
	family string
	gp     int // index into g.staff
	conds  [numConditions]bool

	// personal holds each catalogue analyte's personal z-score: where this
	// person's values sit within the population, stable across visits.
	personal []float64

	out []Resource
}

func newPatientBuilder(g *Generator, i int) *patientBuilder {
	id := g.id("Patient/" + strconv.Itoa(i))
	return &patientBuilder{
		g: g, i: i, r: g.rng("patient", i), id: id, ref: ref("Patient", id),
		showcase: i == ShowcasePatient,
		personal: make([]float64, len(catalogue)),
	}
}

// conditionID returns the id of the patient's Condition conditions[k].
func (b *patientBuilder) conditionID(k int) string {
	return b.g.id("Condition/" + strconv.Itoa(b.i) + "/" + conditions[k].Key)
}

func (b *patientBuilder) build() PatientRecord {
	b.demographics()
	b.chooseConditions()
	for k := range b.personal {
		b.personal[k] = b.r.NormFloat64()
	}
	if b.conds[condDiabetes] {
		// Glucose follows the person's glycaemic control.
		b.personal[analyteIndex["glucose"]] = b.personal[analyteIndex["hba1c"]]
	}
	b.patientResource()
	b.conditionResources()
	b.labs()
	return PatientRecord{
		Index:     b.i,
		PatientID: b.id,
		Name:      b.given[0] + " " + b.family,
		BirthDate: b.birth.Format(time.DateOnly),
		Resources: b.out,
	}
}

func (b *patientBuilder) add(typ, id string, v any) {
	b.out = append(b.out, Resource{Type: typ, ID: id, JSON: marshal(v)})
}

func (b *patientBuilder) chance(p float64) bool { return b.r.Float64() < p }

func (b *patientBuilder) demographics() {
	r := b.r
	b.sex, b.gender = male, "male"
	if r.IntN(1000) < 510 {
		b.sex, b.gender = female, "female"
	}
	band := weighted(r, ageBands, func(a ageBand) int { return a.Weight })
	if b.showcase {
		band = showcaseAge
	}
	b.age = band.Lo + r.IntN(band.Hi-band.Lo+1)
	// Birth date: any day on which the person is b.age years old at Anchor.
	anchorDay := time.Date(b.g.anchor.Year(), b.g.anchor.Month(), b.g.anchor.Day(), 0, 0, 0, 0, time.UTC)
	latest := anchorDay.AddDate(-b.age, 0, 0)
	earliest := anchorDay.AddDate(-b.age-1, 0, 1)
	days := int(latest.Sub(earliest).Hours() / 24)
	b.birth = earliest.AddDate(0, 0, r.IntN(days+1))
	if ageOn(b.birth, b.g.anchor) != b.age {
		panic("demo: birth date does not give the intended age")
	}

	b.lang = weighted(r, languages, func(l language) int { return l.Weight })
	if b.showcase {
		b.lang = languages[0] // English
	}
	b.group = b.lang.Group
	if b.lang.Code == "en" {
		switch x := r.IntN(100); {
		case x < 12:
			b.group = groupHispanic
		case x < 13:
			b.group = groupVietnamese
		case x < 14:
			b.group = groupChinese
		case x < 15:
			b.group = groupFrench
		}
	}
	givenGroup := b.group
	if b.group != groupUS && b.group != groupFrench && (b.lang.Code == "en" || b.age < 18) && r.IntN(2) == 0 {
		givenGroup = groupUS // e.g. an English-speaking García, or a US-born Nguyen child
	}
	list := givenNames(b.sex, givenGroup, b.birth.Year())
	b.given = []string{pickOne(r, list)}
	if givenGroup == groupUS && r.IntN(100) < 35 {
		if mid := pickOne(r, list); mid != b.given[0] {
			b.given = append(b.given, mid)
		}
	}
	b.family = pickOne(r, surnames(b.group))

	// General practitioner.
	b.gp = pickOne(r, b.g.physicians)
}

// ageOn returns the age in whole years on day t of someone born on birth.
func ageOn(birth, t time.Time) int {
	age := t.Year() - birth.Year()
	if t.Month() < birth.Month() || (t.Month() == birth.Month() && t.Day() < birth.Day()) {
		age--
	}
	return age
}

func (b *patientBuilder) chooseConditions() {
	a := b.age
	if a < 18 {
		return
	}
	by := func(young, mid1, mid2, old float64) float64 {
		switch {
		case a < 30:
			return young
		case a < 45:
			return mid1
		case a < 65:
			return mid2
		}
		return old
	}
	b.conds[condDiabetes] = b.chance(by(0.02, 0.06, 0.14, 0.22))
	b.conds[condHyperlipidemia] = b.chance(by(0.01, 0.10, 0.25, 0.30))
	ckd := by(0, 0.01, 0.05, 0.15)
	if b.conds[condDiabetes] {
		ckd *= 1.8
	}
	b.conds[condCKD] = b.chance(ckd)
	thyroid := by(0.04, 0.07, 0.08, 0.10)
	if b.sex == male {
		thyroid /= 4
	}
	b.conds[condHypothyroidism] = b.chance(thyroid)
	anemia := 0.0
	switch {
	case b.sex == female && a <= 50:
		anemia = 0.08
	case a >= 65:
		anemia = 0.03
	}
	b.conds[condAnemia] = b.chance(anemia)
	liver := 0.03
	if b.conds[condDiabetes] || b.conds[condHyperlipidemia] {
		liver = 0.07
	}
	b.conds[condLiver] = b.chance(liver)
	if b.showcase {
		b.conds = showcaseConditions
	}
}

func (b *patientBuilder) patientResource() {
	r := b.r
	g := b.g
	adult := b.age >= 18

	// Home address.
	pl := weighted(r, places, func(p place) int { return p.Weight })
	if r.IntN(100) < 65 {
		var local []place
		for _, p := range places {
			if p.Lang == b.lang.Code {
				local = append(local, p)
			}
		}
		if len(local) > 0 {
			pl = weighted(r, local, func(p place) int { return p.Weight })
		}
	}
	line := []string{fmt.Sprintf("%d %s %s", 100+r.IntN(9800), pickOne(r, streetNames), pickOne(r, streetSuffixes))}
	if r.IntN(100) < 18 {
		line = append(line, fmt.Sprintf("Apt %d%c", 1+r.IntN(6), 'A'+rune(r.IntN(6))))
	}
	addr := address{Use: "home", Type: "both", Line: line, City: pl.City, State: "IL", PostalCode: pl.Zip, Country: "US"}

	// Who is contacted: the patient, or for a minor a parent.
	contactGiven := b.given[0]
	var contacts []patientContact
	if !adult {
		contactSex := female
		rel := concept(systemRoleCode, "MTH", "mother")
		if r.IntN(100) < 30 {
			contactSex = male
			rel = concept(systemRoleCode, "FTH", "father")
		}
		contactGiven = pickOne(r, givenNames(contactSex, b.group, b.birth.Year()-28))
		cg := "female"
		if contactSex == male {
			cg = "male"
		}
		contacts = []patientContact{{
			Relationship: []codeableConcept{rel},
			Name:         humanName{Use: "official", Text: contactGiven + " " + b.family, Family: b.family, Given: []string{contactGiven}},
			Gender:       cg,
		}}
	}
	hasMobile, hasEmail, hasLandline := true, true, false
	switch {
	case !adult:
		hasMobile, hasEmail = b.chance(0.98), b.chance(0.92)
	case b.age < 65:
		hasMobile, hasEmail, hasLandline = b.chance(0.97), b.chance(0.92), b.chance(0.1)
	case b.age < 80:
		hasMobile, hasEmail, hasLandline = b.chance(0.9), b.chance(0.75), b.chance(0.5)
	default:
		hasMobile, hasEmail, hasLandline = b.chance(0.75), b.chance(0.5), b.chance(0.8)
	}
	if b.showcase {
		hasMobile, hasEmail, hasLandline = true, true, false
	}
	// 555-0100..0109 are kept for the clinic's own lines.
	mobile := fmt.Sprintf("+1%s5550%03d", pl.AreaCode, 110+r.IntN(90))
	landline := fmt.Sprintf("+1%s5550%03d", pl.AreaCode, 110+r.IntN(90))
	email := fmt.Sprintf("%s.%s%d@example.com", emailLocal(contactGiven), emailLocal(b.family), b.i+1)

	// Contact preferences, most preferred channel first.
	var channels []string
	x := r.Float64()
	switch {
	case hasMobile && hasEmail:
		switch {
		case x < 0.45:
			channels = []string{"email", "sms"}
		case x < 0.80:
			channels = []string{"sms", "email"}
		case x < 0.88:
			channels = []string{"email"}
		case x < 0.96:
			channels = []string{"sms"}
		}
	case hasMobile:
		if x < 0.92 {
			channels = []string{"sms"}
		}
	case hasEmail:
		if x < 0.92 {
			channels = []string{"email"}
		}
	}
	if len(channels) == 0 {
		channels = []string{"none"}
	}
	if b.showcase {
		channels = []string{"email", "sms"}
	}
	rank := func(ch string) int {
		for k, c := range channels {
			if c == ch {
				return k + 1
			}
		}
		return 0
	}
	var telecom []contactPoint
	if hasMobile {
		telecom = append(telecom, contactPoint{System: "phone", Value: mobile, Use: "mobile", Rank: rank("sms")})
	}
	if hasLandline {
		telecom = append(telecom, contactPoint{System: "phone", Value: landline, Use: "home"})
	}
	if hasEmail {
		telecom = append(telecom, contactPoint{System: "email", Value: email, Use: "home", Rank: rank("email")})
	}
	if len(contacts) > 0 {
		contacts[0].Telecom = telecom
	}

	qh := pickOne(r, quietHours)
	tz := weighted(r, timeZones, func(t timeZone) int { return t.Weight }).Name
	healthInfo := b.chance(0.12)
	if b.showcase {
		tz, healthInfo = clinicTimeZone, false
	}
	prefs := extension{URL: ContactPreferencesURL}
	for _, c := range channels {
		prefs.Extension = append(prefs.Extension, extension{URL: "channel", ValueCode: c})
	}
	prefs.Extension = append(prefs.Extension,
		extension{URL: "quietHoursStart", ValueTime: qh[0]},
		extension{URL: "quietHoursEnd", ValueTime: qh[1]},
		extension{URL: "timeZone", ValueCode: tz},
		extension{URL: "healthInfoInMessages", ValueBoolean: &healthInfo},
	)

	mrn := strconv.Itoa(1000000 + (b.i*7919+104729)%9000000)
	mrType := concept(systemIdentifierType, "MR", "Medical record number")
	p := patientJSON{
		ResourceType: "Patient",
		ID:           b.id,
		Extension:    []extension{prefs},
		Identifier:   []identifier{{Use: "usual", Type: &mrType, System: systemMRN, Value: mrn}},
		Active:       true,
		Name: []humanName{{
			Use:    "official",
			Text:   joinName(b.given, b.family),
			Family: b.family,
			Given:  b.given,
		}},
		Telecom:   telecom,
		Gender:    b.gender,
		BirthDate: b.birth.Format(time.DateOnly),
		Address:   []address{addr},
		Contact:   contacts,
		Communication: []communication{{
			Language:  codeableConcept{Coding: []coding{{System: systemBCP47, Code: b.lang.Code, Display: b.lang.Display}}, Text: b.lang.Display},
			Preferred: true,
		}},
		GeneralPractitioner:  []reference{*ref("Practitioner", g.staff[b.gp].info.ID)},
		ManagingOrganization: ref("Organization", g.orgID),
	}
	b.add("Patient", b.id, p)
}

func joinName(given []string, family string) string {
	s := ""
	for _, g := range given {
		s += g + " "
	}
	return s + family
}

func (b *patientBuilder) conditionResources() {
	for k, c := range conditions {
		if !b.conds[k] {
			continue
		}
		years := 1 + b.r.IntN(min(b.age-17, 15))
		onset := b.g.anchor.AddDate(-years, 0, -b.r.IntN(365))
		if onset.Before(b.birth) {
			onset = b.birth
		}
		if b.showcase {
			onset = b.g.showcaseOnset(k)
		}
		id := b.conditionID(k)
		b.add("Condition", id, conditionJSON{
			ResourceType:       "Condition",
			ID:                 id,
			ClinicalStatus:     concept(systemCondClinical, "active", "Active"),
			VerificationStatus: concept(systemCondVerify, "confirmed", "Confirmed"),
			Category:           []codeableConcept{concept(systemCondCategory, "problem-list-item", "Problem List Item")},
			Code:               codeableConcept{Coding: []coding{{System: systemSNOMED, Code: c.Code, Display: c.Display}}, Text: c.Display},
			Subject:            b.ref,
			OnsetDateTime:      onset.Format(time.DateOnly),
			Asserter:           ref("Practitioner", b.g.staff[b.gp].info.ID),
		})
	}
}

// weighted returns an element of items chosen with probability proportional
// to weight.
func weighted[T any](r *rand.Rand, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	x := r.IntN(total)
	for _, it := range items {
		x -= weight(it)
		if x < 0 {
			return it
		}
	}
	return items[len(items)-1]
}
