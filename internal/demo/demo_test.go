package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var testAnchor = time.Date(2026, 3, 16, 15, 4, 5, 0, time.UTC)

func newTestGenerator(t testing.TB, cfg Config) *Generator {
	t.Helper()
	if cfg.Anchor.IsZero() {
		cfg.Anchor = testAnchor
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatalf("NewGenerator(%+v): %v", cfg, err)
	}
	return g
}

// dataset is a whole generated data set, decoded for inspection.
type dataset struct {
	g        *Generator
	clinic   Clinic
	patients []PatientRecord
	byRef    map[string]*decoded // "Type/id" -> resource
	all      []*decoded
}

type decoded struct {
	res     Resource
	m       map[string]any
	patient int // index of the owning patient, or -1 for the clinic
}

func decode(t testing.TB, r Resource) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.JSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s/%s: invalid JSON: %v\n%s", r.Type, r.ID, err, r.JSON)
	}
	return m
}

func generate(t testing.TB, cfg Config) *dataset {
	t.Helper()
	g := newTestGenerator(t, cfg)
	ds := &dataset{g: g, clinic: g.Clinic(), byRef: map[string]*decoded{}}
	add := func(r Resource, patient int) {
		d := &decoded{res: r, m: decode(t, r), patient: patient}
		key := r.Type + "/" + r.ID
		if _, dup := ds.byRef[key]; dup {
			t.Fatalf("duplicate resource %s", key)
		}
		ds.byRef[key] = d
		ds.all = append(ds.all, d)
	}
	for _, r := range ds.clinic.All() {
		add(r, -1)
	}
	for i := range g.Count() {
		p := g.Patient(i)
		ds.patients = append(ds.patients, p)
		for _, r := range p.Resources {
			add(r, i)
		}
	}
	return ds
}

var (
	defaultOnce sync.Once
	defaultDS   *dataset
)

// defaultDataset returns the data set of the default Config at testAnchor.
func defaultDataset(t *testing.T) *dataset {
	defaultOnce.Do(func() { defaultDS = generate(t, Config{}) })
	if defaultDS == nil {
		t.Fatal("default data set failed to generate")
	}
	return defaultDS
}

func TestNewGeneratorValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; nil means no error
	}{
		{"defaults", Config{Anchor: testAnchor}, nil},
		{"smallest", Config{Anchor: testAnchor, Patients: 1, Practitioners: 1, Months: 1}, nil},
		{"largest", Config{Anchor: testAnchor, Patients: MaxPatients, Practitioners: MaxPractitioners, Months: MaxMonths}, nil},
		{"no anchor", Config{}, []string{"Anchor is required"}},
		{"negative patients", Config{Anchor: testAnchor, Patients: -1}, []string{"Patients must be between 1 and 100000, got -1"}},
		{"too many patients", Config{Anchor: testAnchor, Patients: MaxPatients + 1}, []string{"Patients must be between 1 and 100000"}},
		{"negative practitioners", Config{Anchor: testAnchor, Practitioners: -2}, []string{"Practitioners must be between 1 and 1000, got -2"}},
		{"too many practitioners", Config{Anchor: testAnchor, Practitioners: MaxPractitioners + 1}, []string{"Practitioners must be between 1 and 1000"}},
		{"negative months", Config{Anchor: testAnchor, Months: -1}, []string{"Months must be between 1 and 120, got -1"}},
		{"too many months", Config{Anchor: testAnchor, Months: MaxMonths + 1}, []string{"Months must be between 1 and 120, got 121"}},
		{"ancient anchor", Config{Anchor: time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"Anchor must lie in the years 1900 to 9999"}},
		{"every problem at once", Config{Patients: -1, Practitioners: -1, Months: -1},
			[]string{"Patients must", "Practitioners must", "Months must", "Anchor is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGenerator(tt.cfg)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("NewGenerator: unexpected error: %v", err)
				}
				if g == nil {
					t.Fatal("NewGenerator returned nil Generator and nil error")
				}
				return
			}
			if err == nil {
				t.Fatalf("NewGenerator(%+v): no error, want one containing %q", tt.cfg, tt.wantErr)
			}
			if g != nil {
				t.Errorf("NewGenerator returned a Generator with an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	local := time.FixedZone("CST", -6*3600)
	g := newTestGenerator(t, Config{Anchor: time.Date(2026, 3, 16, 9, 4, 5, 999, local)})
	want := Config{Seed: 1, Patients: 200, Practitioners: 8, Months: 12, Anchor: testAnchor}
	if got := g.Config(); !reflect.DeepEqual(got, want) {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	if g.Count() != 200 {
		t.Errorf("Count() = %d, want 200", g.Count())
	}
	// A generator built from the normalised Config is the same generator.
	g2 := newTestGenerator(t, g.Config())
	if !reflect.DeepEqual(g.Clinic(), g2.Clinic()) || !reflect.DeepEqual(g.Patient(7), g2.Patient(7)) {
		t.Error("a generator from Config() differs from the original")
	}
}

func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 42, Patients: 60, Months: 6}
	a, b := newTestGenerator(t, cfg), newTestGenerator(t, cfg)
	if !reflect.DeepEqual(a.Clinic(), b.Clinic()) {
		t.Fatal("Clinic differs between generators with the same Config")
	}
	inOrder := make([]PatientRecord, a.Count())
	for i := range a.Count() {
		inOrder[i] = a.Patient(i)
	}
	// Out of order, on another generator: reversed, then a few repeats.
	for i := b.Count() - 1; i >= 0; i-- {
		if got := b.Patient(i); !reflect.DeepEqual(got, inOrder[i]) {
			t.Fatalf("Patient(%d) generated out of order differs from in order", i)
		}
	}
	for _, i := range []int{17, 3, 17, 59, 0} {
		if got := a.Patient(i); !reflect.DeepEqual(got, inOrder[i]) {
			t.Fatalf("Patient(%d) differs when called again", i)
		}
	}

	// Concurrent use gives the same answers.
	var wg sync.WaitGroup
	got := make([]PatientRecord, a.Count())
	for i := range a.Count() {
		wg.Go(func() { got[i] = a.Patient(i) })
	}
	wg.Wait()
	if !reflect.DeepEqual(got, inOrder) {
		t.Fatal("patients generated concurrently differ")
	}

	// A patient does not depend on how many patients there are, so a data
	// set can be extended.
	small := newTestGenerator(t, Config{Seed: 42, Patients: 5, Months: 6})
	if !reflect.DeepEqual(small.Patient(4), inOrder[4]) {
		t.Error("Patient(4) depends on Config.Patients")
	}

	// Another seed gives other data.
	other := newTestGenerator(t, Config{Seed: 43, Patients: 60, Months: 6})
	if other.Clinic().Organization.ID == a.Clinic().Organization.ID {
		t.Error("different seeds give the same Organization id")
	}
	same := 0
	for i := range other.Count() {
		if bytes.Equal(other.Patient(i).Resources[0].JSON, inOrder[i].Resources[0].JSON) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d patients identical under a different seed", same)
	}
}

func TestPatientPanicsOutOfRange(t *testing.T) {
	g := newTestGenerator(t, Config{Patients: 3})
	for _, i := range []int{-1, 3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Patient(%d) did not panic", i)
				}
			}()
			g.Patient(i)
		}()
	}
}

func TestClinicIsACopy(t *testing.T) {
	g := newTestGenerator(t, Config{Patients: 1})
	c := g.Clinic()
	c.Resources[0].JSON[0] = 'X'
	c.Organization.JSON[0] = 'X'
	c.Practitioners[0].Name = "changed"
	again := g.Clinic()
	if again.Resources[0].JSON[0] != '{' || again.Organization.JSON[0] != '{' || again.Practitioners[0].Name == "changed" {
		t.Error("modifying the result of Clinic changed the generator")
	}
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	refRE   = regexp.MustCompile(`^([A-Z][A-Za-z]+)/([0-9a-f-]{36})$`)
	phoneRE = regexp.MustCompile(`^\+1(708|773|312)5550(1[0-9][0-9])$`)
	emailRE = regexp.MustCompile(`^[a-z0-9.]+@example\.(com|org)$`)
	loincRE = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
)

// walk calls fn for every object nested in v, including v itself.
func walk(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

func TestResourcesAreValid(t *testing.T) {
	ds := defaultDataset(t)
	if n := len(ds.patients); n < 200 {
		t.Fatalf("%d patients, want at least 200", n)
	}
	for _, d := range ds.all {
		r := d.res
		if got := d.m["resourceType"]; got != r.Type {
			t.Errorf("%s/%s: resourceType %v", r.Type, r.ID, got)
		}
		if got := d.m["id"]; got != r.ID {
			t.Errorf("%s/%s: id %v", r.Type, r.ID, got)
		}
		if !uuidRE.MatchString(r.ID) {
			t.Errorf("%s/%s: id is not a version 8 UUID", r.Type, r.ID)
		}
		if _, ok := d.m["meta"]; ok {
			t.Errorf("%s/%s: has meta", r.Type, r.ID)
		}
		walk(d.m, func(o map[string]any) {
			s, ok := o["reference"].(string)
			if !ok {
				return
			}
			if !refRE.MatchString(s) {
				t.Errorf("%s/%s: reference %q is not Type/id", r.Type, r.ID, s)
				return
			}
			target, ok := ds.byRef[s]
			if !ok {
				t.Errorf("%s/%s: reference %q points at no generated resource", r.Type, r.ID, s)
				return
			}
			if target.patient != -1 && target.patient != d.patient {
				t.Errorf("%s/%s: reference %q points into another patient's record", r.Type, r.ID, s)
			}
		})
	}
}

func TestDependencyOrder(t *testing.T) {
	ds := defaultDataset(t)
	seen := map[string]bool{}
	check := func(where string, rs []Resource) {
		for _, r := range rs {
			walk(decode(t, r), func(o map[string]any) {
				if s, ok := o["reference"].(string); ok && !seen[s] {
					t.Errorf("%s: %s/%s refers to %s before it", where, r.Type, r.ID, s)
				}
			})
			seen[r.Type+"/"+r.ID] = true
		}
	}
	check("clinic", ds.clinic.All())
	for _, p := range ds.patients {
		if p.Resources[0].Type != "Patient" || p.Resources[0].ID != p.PatientID {
			t.Errorf("patient %d: first resource is %s/%s, want Patient/%s", p.Index, p.Resources[0].Type, p.Resources[0].ID, p.PatientID)
		}
		check(fmt.Sprintf("patient %d", p.Index), p.Resources)
	}
}

func TestTimestampsWithinWindow(t *testing.T) {
	ds := defaultDataset(t)
	anchor := ds.g.Config().Anchor
	start := anchor.AddDate(0, -ds.g.Config().Months, 0)
	// The showcase patient's earlier visits reach back about two years
	// whatever Months says (see Showcase).
	showcaseStart := anchor.AddDate(-2, 0, 0)
	fields := []string{"authoredOn", "effectiveDateTime", "issued", "collectedDateTime", "receivedTime", "sent"}
	n := 0
	for _, d := range ds.all {
		start := start
		if d.patient == ShowcasePatient {
			start = showcaseStart
		}
		walk(d.m, func(o map[string]any) {
			for _, f := range fields {
				s, ok := o[f].(string)
				if !ok {
					continue
				}
				n++
				ts, err := time.Parse(time.RFC3339, s)
				if err != nil {
					t.Errorf("%s/%s: %s %q is not RFC 3339: %v", d.res.Type, d.res.ID, f, s, err)
					continue
				}
				if ts.Before(start) || ts.After(anchor) {
					t.Errorf("%s/%s: %s %s outside [%s, %s]", d.res.Type, d.res.ID, f, s, start.Format(time.RFC3339), anchor.Format(time.RFC3339))
				}
			}
		})
		switch d.res.Type {
		case "Observation", "DiagnosticReport":
			eff, _ := time.Parse(time.RFC3339, d.m["effectiveDateTime"].(string))
			iss, _ := time.Parse(time.RFC3339, d.m["issued"].(string))
			if iss.Before(eff) {
				t.Errorf("%s/%s: issued before effective", d.res.Type, d.res.ID)
			}
		case "Patient", "Condition":
			field := map[string]string{"Patient": "birthDate", "Condition": "onsetDateTime"}[d.res.Type]
			s := d.m[field].(string)
			day, err := time.Parse(time.DateOnly, s)
			if err != nil || day.After(anchor) {
				t.Errorf("%s/%s: %s %q invalid or after Anchor", d.res.Type, d.res.ID, field, s)
			}
		}
	}
	if n == 0 {
		t.Fatal("no timestamps checked")
	}
}

// num returns a JSON number (decoded with UseNumber) as float64.
func num(t *testing.T, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	f, err := n.Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func codeOf(v any) string {
	return v.(map[string]any)["coding"].([]any)[0].(map[string]any)["code"].(string)
}

func TestObservationsAreConsistent(t *testing.T) {
	ds := defaultDataset(t)
	byCode := map[string]*analyte{}
	for i := range catalogue {
		byCode[catalogue[i].Code] = &catalogue[i]
	}
	var total, abnormal, critical int
	for _, d := range ds.all {
		if d.res.Type != "Observation" {
			continue
		}
		total++
		m := d.m
		id := d.res.ID
		code := codeOf(m["code"])
		a := byCode[code]
		if a == nil {
			t.Fatalf("Observation/%s: code %s not in the catalogue", id, code)
		}
		interp := codeOf(m["interpretation"].([]any)[0])
		if interp != "N" {
			abnormal++
		}
		if interp == "LL" || interp == "HH" {
			critical++
		}
		if codeOf(m["category"].([]any)[0]) != "laboratory" {
			t.Errorf("Observation/%s: category is not laboratory", id)
		}
		ranges, _ := m["referenceRange"].([]any)
		if len(ranges) != 1 {
			t.Errorf("Observation/%s: %d reference ranges, want 1", id, len(ranges))
			continue
		}
		rr := ranges[0].(map[string]any)
		vq, isQty := m["valueQuantity"].(map[string]any)
		if !isQty {
			vc := codeOf(m["valueCodeableConcept"])
			want := map[string]string{"260385009": "N", "10828004": "A"}[vc]
			if want == "" || interp != want {
				t.Errorf("Observation/%s: coded value %s with interpretation %s", id, vc, interp)
			}
			continue
		}
		v := num(t, vq["value"])
		if vq["system"] != systemUCUM || vq["code"] != a.UCUM {
			t.Errorf("Observation/%s: unit %v/%v, want UCUM %s", id, vq["system"], vq["code"], a.UCUM)
		}
		low, high := open, open
		if q, ok := rr["low"].(map[string]any); ok {
			low = num(t, q["value"])
			if q["code"] != vq["code"] {
				t.Errorf("Observation/%s: range unit %v differs from value unit %v", id, q["code"], vq["code"])
			}
		}
		if q, ok := rr["high"].(map[string]any); ok {
			high = num(t, q["value"])
		}
		if low == open && high == open {
			t.Errorf("Observation/%s: reference range has neither low nor high", id)
		}
		want := "N"
		switch {
		case a.CritLow != open && v < a.CritLow:
			want = "LL"
		case a.CritHigh != open && v > a.CritHigh:
			want = "HH"
		case low != open && v < low:
			want = "L"
		case high != open && v > high:
			want = "H"
		}
		if interp != want {
			t.Errorf("Observation/%s: %s = %v with range [%v, %v]: interpretation %s, want %s", id, a.Key, v, low, high, interp, want)
		}
		// H iff above the range, L iff below.
		if (high != open && v > high) != (interp == "H" || interp == "HH") {
			t.Errorf("Observation/%s: value %v high %v but interpretation %s", id, v, high, interp)
		}
		if (low != open && v < low) != (interp == "L" || interp == "LL") {
			t.Errorf("Observation/%s: value %v low %v but interpretation %s", id, v, low, interp)
		}
		// Sex-specific ranges belong to a person of that sex.
		gender := ds.byRef["Patient/"+ds.patients[d.patient].PatientID].m["gender"]
		text, _ := rr["text"].(string)
		if strings.Contains(text, "female") && gender != "female" || strings.Contains(text, " male") && gender != "male" {
			t.Errorf("Observation/%s: range %q for a %v patient", id, text, gender)
		}
	}
	if total == 0 {
		t.Fatal("no observations")
	}
	share := float64(abnormal) / float64(total)
	t.Logf("%d observations, %.1f%% abnormal, %d critical", total, 100*share, critical)
	if share < 0.05 || share > 0.25 {
		t.Errorf("%.1f%% of observations abnormal, want 5%% to 25%%", 100*share)
	}
	if critical == 0 || float64(critical)/float64(total) >= 0.01 {
		t.Errorf("%d of %d observations critical, want some but under 1%%", critical, total)
	}
}

func TestOrderStatuses(t *testing.T) {
	ds := defaultDataset(t)
	anchor := ds.g.Config().Anchor
	type order struct {
		sr, spec, dr *decoded
		obs          []*decoded
	}
	orders := map[string]*order{}
	get := func(ref string) *order {
		if orders[ref] == nil {
			orders[ref] = &order{}
		}
		return orders[ref]
	}
	firstRef := func(v any) string {
		switch x := v.(type) {
		case []any:
			return x[0].(map[string]any)["reference"].(string)
		case map[string]any:
			return x["reference"].(string)
		}
		return ""
	}
	for _, d := range ds.all {
		switch d.res.Type {
		case "ServiceRequest":
			get("ServiceRequest/" + d.res.ID).sr = d
		case "Specimen":
			get(firstRef(d.m["request"])).spec = d
		case "DiagnosticReport":
			get(firstRef(d.m["basedOn"])).dr = d
		case "Observation":
			o := get(firstRef(d.m["basedOn"]))
			o.obs = append(o.obs, d)
		}
	}
	counts := map[string]int{}
	for ref, o := range orders {
		if o.sr == nil {
			t.Fatalf("%s: results without the ServiceRequest", ref)
		}
		srStatus := o.sr.m["status"].(string)
		if o.sr.m["intent"] != "order" {
			t.Errorf("%s: intent %v", ref, o.sr.m["intent"])
		}
		drStatus := ""
		if o.dr != nil {
			drStatus = o.dr.m["status"].(string)
			if n := len(o.dr.m["result"].([]any)); n != len(o.obs) || n == 0 {
				t.Errorf("%s: report lists %d results, %d observations exist", ref, n, len(o.obs))
			}
			if o.spec == nil {
				t.Errorf("%s: report without specimen", ref)
			}
		}
		counts["ServiceRequest/"+srStatus]++
		if drStatus != "" {
			counts["DiagnosticReport/"+drStatus]++
		}
		switch {
		case srStatus == "revoked":
			if o.spec != nil || o.dr != nil {
				t.Errorf("%s: cancelled order has a specimen or report", ref)
			}
		case srStatus == "completed":
			if drStatus != "final" && drStatus != "amended" {
				t.Errorf("%s: completed order with report status %q", ref, drStatus)
			}
		case srStatus == "active":
			if drStatus != "" && drStatus != "preliminary" {
				t.Errorf("%s: active order with report status %q", ref, drStatus)
			}
			authored, _ := time.Parse(time.RFC3339, o.sr.m["authoredOn"].(string))
			if anchor.Sub(authored) > 6*24*time.Hour {
				t.Errorf("%s: order from %s still active at Anchor", ref, authored)
			}
		default:
			t.Errorf("%s: unexpected ServiceRequest status %q", ref, srStatus)
		}
		for _, ob := range o.obs {
			s := ob.m["status"].(string)
			if drStatus == "preliminary" && s != "preliminary" ||
				drStatus == "final" && s != "final" ||
				drStatus == "amended" && s != "final" && s != "amended" {
				t.Errorf("%s: observation status %s in a %s report", ref, s, drStatus)
			}
		}
	}
	t.Logf("statuses: %v", counts)
	for _, k := range []string{"ServiceRequest/active", "ServiceRequest/revoked", "ServiceRequest/completed",
		"DiagnosticReport/preliminary", "DiagnosticReport/final", "DiagnosticReport/amended"} {
		if counts[k] == 0 {
			t.Errorf("no %s in the default data set", k)
		}
	}
}

func TestPatients(t *testing.T) {
	ds := defaultDataset(t)
	anchor := ds.g.Config().Anchor
	langs := map[string]int{}
	genders := map[string]int{}
	var children, elderly, withConditions int
	mrns := map[string]bool{}
	for _, p := range ds.patients {
		d := ds.byRef["Patient/"+p.PatientID]
		m := d.m
		genders[m["gender"].(string)]++
		lang := codeOf(m["communication"].([]any)[0].(map[string]any)["language"])
		langs[lang]++
		birth, err := time.Parse(time.DateOnly, m["birthDate"].(string))
		if err != nil || m["birthDate"] != p.BirthDate {
			t.Fatalf("patient %d: birthDate %v, record says %s", p.Index, m["birthDate"], p.BirthDate)
		}
		age := ageOn(birth, anchor)
		if age < 0 || age > 95 {
			t.Errorf("patient %d: age %d", p.Index, age)
		}
		if age < 18 {
			children++
			if _, ok := m["contact"]; !ok {
				t.Errorf("patient %d: a child without a parent contact", p.Index)
			}
		}
		if age >= 65 {
			elderly++
		}
		id := m["identifier"].([]any)[0].(map[string]any)
		if id["system"] != systemMRN || mrns[id["value"].(string)] {
			t.Errorf("patient %d: MRN %v missing or duplicated", p.Index, id)
		}
		mrns[id["value"].(string)] = true
		if len(m["generalPractitioner"].([]any)) != 1 {
			t.Errorf("patient %d: no general practitioner", p.Index)
		}
		name := m["name"].([]any)[0].(map[string]any)
		if !strings.HasPrefix(p.Name, name["given"].([]any)[0].(string)+" ") || !strings.HasSuffix(p.Name, name["family"].(string)) {
			t.Errorf("patient %d: record name %q, resource name %v", p.Index, p.Name, name)
		}
		for _, r := range p.Resources {
			if r.Type == "Condition" {
				withConditions++
				break
			}
		}
		checkContactPreferences(t, p.Index, m)
	}
	t.Logf("languages %v, genders %v, %d children, %d aged 65+, %d with chronic conditions", langs, genders, children, elderly, withConditions)
	if len(langs) < 2 || langs["en"] == 0 || langs["es"] == 0 {
		t.Errorf("languages %v, want English, Spanish and more", langs)
	}
	if genders["male"] == 0 || genders["female"] == 0 {
		t.Errorf("genders %v", genders)
	}
	if children == 0 || elderly == 0 {
		t.Errorf("%d children and %d elderly patients, want both", children, elderly)
	}
	if withConditions == 0 {
		t.Error("no patient has a chronic condition")
	}
}

func checkContactPreferences(t *testing.T, i int, m map[string]any) {
	t.Helper()
	exts, _ := m["extension"].([]any)
	var prefs map[string]any
	for _, e := range exts {
		if e.(map[string]any)["url"] == ContactPreferencesURL {
			prefs = e.(map[string]any)
		}
	}
	if prefs == nil {
		t.Errorf("patient %d: no contact preferences", i)
		return
	}
	var channels []string
	seen := map[string]any{}
	for _, e := range prefs["extension"].([]any) {
		e := e.(map[string]any)
		switch url := e["url"].(string); url {
		case "channel":
			channels = append(channels, e["valueCode"].(string))
		case "quietHoursStart", "quietHoursEnd":
			if _, err := time.Parse(time.TimeOnly, e["valueTime"].(string)); err != nil {
				t.Errorf("patient %d: %s %v", i, url, e["valueTime"])
			}
			seen[url] = true
		case "timeZone":
			if _, err := time.LoadLocation(e["valueCode"].(string)); err != nil {
				t.Logf("patient %d: time zone %v not loadable here: %v", i, e["valueCode"], err)
			}
			seen[url] = true
		case "healthInfoInMessages":
			if _, ok := e["valueBoolean"].(bool); !ok {
				t.Errorf("patient %d: healthInfoInMessages %v", i, e["valueBoolean"])
			}
			seen[url] = true
		default:
			t.Errorf("patient %d: unknown contact preference %q", i, url)
		}
	}
	if len(seen) != 4 || len(channels) == 0 {
		t.Errorf("patient %d: incomplete contact preferences %v", i, prefs)
	}
	// The telecom ranked 1 is the first channel's; "none" ranks nothing.
	rankOf := map[string]int{}
	telecom, _ := m["telecom"].([]any)
	for _, c := range telecom {
		c := c.(map[string]any)
		v := c["value"].(string)
		switch c["system"] {
		case "phone":
			if !phoneRE.MatchString(v) {
				t.Errorf("patient %d: phone %q not a fictional 555-01xx number", i, v)
			}
		case "email":
			if !emailRE.MatchString(v) {
				t.Errorf("patient %d: email %q not at example.com/org", i, v)
			}
		}
		if r, ok := c["rank"]; ok {
			key := "email"
			if c["system"] == "phone" {
				key = "sms"
				if c["use"] != "mobile" {
					t.Errorf("patient %d: a ranked phone that is not mobile", i)
				}
			}
			rankOf[key] = int(num(t, r))
		}
	}
	if channels[0] == "none" {
		if len(channels) != 1 || len(rankOf) != 0 {
			t.Errorf("patient %d: channels %v with ranks %v", i, channels, rankOf)
		}
		return
	}
	for k, ch := range channels {
		if rankOf[ch] != k+1 {
			t.Errorf("patient %d: channel %s is preference %d but its telecom has rank %d", i, ch, k+1, rankOf[ch])
		}
	}
}

func TestClinic(t *testing.T) {
	ds := defaultDataset(t)
	c := ds.clinic
	if c.Name != "Riverside Family Clinic" || c.Slug != "riverside-family-clinic" {
		t.Errorf("clinic %q (%q)", c.Name, c.Slug)
	}
	roles := map[string]int{}
	for _, p := range c.Practitioners {
		roles[p.Role]++
		if !emailRE.MatchString(p.Email) || !strings.HasSuffix(p.Email, "@example.org") {
			t.Errorf("practitioner %s: email %q", p.Name, p.Email)
		}
		d := ds.byRef["Practitioner/"+p.ID]
		if d == nil {
			t.Fatalf("practitioner %s: no Practitioner resource", p.Name)
		}
		id := d.m["identifier"].([]any)[0].(map[string]any)
		if id["system"] != systemNPI || !validNPI(id["value"].(string)) {
			t.Errorf("practitioner %s: NPI %v", p.Name, id)
		}
	}
	for _, role := range []string{rolePhysician, roleNurse, roleLabTech, roleCoordinator} {
		if roles[role] == 0 {
			t.Errorf("no %s among %v", role, roles)
		}
	}
	counts := map[string]int{}
	for _, r := range c.Resources {
		counts[r.Type]++
	}
	// Three physicians (practitioners 0, 1 and 5 of rolePattern) each have
	// a Schedule with 18 slots a weekday over the 28 days after Anchor.
	// Anchor is Monday 10:04 in Chicago: 20 full weekdays, less the four
	// slots of Anchor's day that have passed, plus the four of the 28th
	// day (a Monday too) that start before 10:04.
	want := map[string]int{"Location": 2, "Practitioner": 8, "PractitionerRole": 8, "Schedule": 3, "Slot": 3 * (20*18 - 4 + 4)}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("clinic resources %v, want %v", counts, want)
	}
}

func validNPI(s string) bool {
	if len(s) != 10 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	return luhnCheckDigit("80840"+s[:9]) == int(s[9]-'0')
}

func TestLuhnCheckDigit(t *testing.T) {
	// 1234567893 is the example NPI in the CMS NPI check-digit guidance.
	if got := luhnCheckDigit("80840123456789"); got != 3 {
		t.Errorf("luhnCheckDigit(80840123456789) = %d, want 3", got)
	}
}

func TestSmallAndOddConfigs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"one practitioner, one month", Config{Patients: 30, Practitioners: 1, Months: 1}},
		{"no lab technician, negative seed", Config{Patients: 30, Practitioners: 3, Months: 1, Seed: -7}},
		{"many practitioners, ten years", Config{Patients: 30, Practitioners: 20, Months: 120, Seed: 99}},
		{"leap day anchor", Config{Patients: 30, Anchor: time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := generate(t, tt.cfg) // checks JSON and duplicate ids
			for _, d := range ds.all {
				walk(d.m, func(o map[string]any) {
					if s, ok := o["reference"].(string); ok && ds.byRef[s] == nil {
						t.Errorf("%s/%s: dangling reference %s", d.res.Type, d.res.ID, s)
					}
				})
			}
		})
	}
}

func TestCatalogue(t *testing.T) {
	if numConditions != len(conditions) {
		t.Fatalf("numConditions = %d, len(conditions) = %d", numConditions, len(conditions))
	}
	codes := map[string]bool{}
	for _, a := range catalogue {
		if !loincRE.MatchString(a.Code) || codes[a.Code] || a.Display == "" || a.Text == "" {
			t.Errorf("%s: bad or duplicate code %q or missing names", a.Key, a.Code)
		}
		codes[a.Code] = true
		if a.Kind != quantitative {
			continue
		}
		if a.UCUM == "" || len(a.Ranges) == 0 {
			t.Errorf("%s: no unit or ranges", a.Key)
		}
		for _, r := range a.Ranges {
			if r.Low != open && r.High != open && r.Low >= r.High {
				t.Errorf("%s: range %v..%v", a.Key, r.Low, r.High)
			}
			if a.CritLow != open && r.Low != open && a.CritLow >= r.Low ||
				a.CritHigh != open && r.High != open && a.CritHigh <= r.High {
				t.Errorf("%s: critical limits %v/%v inside range %v..%v", a.Key, a.CritLow, a.CritHigh, r.Low, r.High)
			}
		}
	}
	for _, p := range panels {
		if !loincRE.MatchString(p.Code) || len(p.Analytes) == 0 || p.TATMin <= 0 || p.TATMax < p.TATMin {
			t.Errorf("panel %s: bad definition", p.Key)
		}
		for _, k := range p.Analytes {
			if _, ok := analyteIndex[k]; !ok {
				t.Errorf("panel %s: unknown analyte %s", p.Key, k)
			}
		}
	}
	// The sex-specific intervals the brief asks for.
	for _, k := range []string{"creatinine", "hgb", "hct", "rbc", "hdl", "alt"} {
		a := catalogue[analyteIndex[k]]
		m, _ := a.interval(male, 40)
		f, _ := a.interval(female, 40)
		if m.Low == f.Low && m.High == f.High {
			t.Errorf("%s: same adult interval for both sexes", k)
		}
	}
}

func TestResourceCounts(t *testing.T) {
	ds := defaultDataset(t)
	counts := map[string]int{}
	for _, d := range ds.all {
		counts[d.res.Type]++
	}
	t.Logf("resources: %v (total %d)", counts, len(ds.all))
	if len(ds.all) < 2000 {
		t.Errorf("only %d resources in the default data set", len(ds.all))
	}
	for _, typ := range []string{"Organization", "Location", "Practitioner", "PractitionerRole", "Patient",
		"Condition", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport"} {
		if counts[typ] == 0 {
			t.Errorf("no %s", typ)
		}
	}
}

func BenchmarkGenerateAll(b *testing.B) {
	g := newTestGenerator(b, Config{})
	resources := 0
	for b.Loop() {
		resources = 0
		for i := range g.Count() {
			resources += len(g.Patient(i).Resources)
		}
	}
	b.ReportMetric(float64(resources), "resources/op")
}

func BenchmarkPatient(b *testing.B) {
	g := newTestGenerator(b, Config{})
	i := 0
	for b.Loop() {
		g.Patient(i % g.Count())
		i++
	}
}
