package demo

// This file is data: the laboratory test catalogue the generator orders from.
//
// Codes and long common names are LOINC. Units are UCUM. Reference intervals
// are common adult (and, where a test is ordered for children, paediatric)
// reference intervals of the kind published in clinical laboratory references
// and hospital laboratory test catalogues (for example the reference-value
// tables of large US reference laboratories and textbook clinical chemistry
// references). Lipid limits follow the US NCEP ATP III adult cut-offs and the
// 2011 NHLBI paediatric guideline. Critical limits are typical of the
// "critical value" call lists that US hospital laboratories publish. Real
// laboratories differ slightly; these values are for demonstration only and
// must never be used for patient care.

// sex selects a reference interval.
type sex uint8

const (
	anySex sex = iota
	male
	female
)

// open marks an absent limit (no lower or no upper reference limit, or no
// critical limit). Every real limit in the catalogue is non-negative.
const open = -1.0

// interval is one reference interval row: it applies to people of Sex (anySex
// for both) aged MinAge through MaxAge years inclusive (MaxAge 0 means no upper
// age). Mean and SD describe how values are spread among people without a
// relevant condition; when both are zero and both limits are set they are
// derived from Low and High so that about 97% of such people fall inside the
// interval. Rows of computed analytes (total cholesterol) need neither.
type interval struct {
	Sex            sex
	MinAge, MaxAge int
	Low, High      float64
	Mean, SD       float64
}

// analyteKind says how a result is expressed.
type analyteKind uint8

const (
	quantitative analyteKind = iota // valueQuantity
	presence                        // valueCodeableConcept Negative/Positive
)

// analyte is one test in the catalogue.
type analyte struct {
	Key      string // stable key used in resource keys; never change it
	Code     string // LOINC
	Display  string // LOINC long common name
	Text     string // the name patients and clinicians use
	Kind     analyteKind
	Unit     string // human-readable unit
	UCUM     string // UCUM code
	Decimals int    // digits after the decimal point as reported

	CritLow, CritHigh float64 // critical limits, or open

	// LogNormal draws values from a log-normal distribution with the row's
	// Mean and SD, for analytes whose values are right-skewed.
	LogNormal bool
	// Personal is the correlation (0..1) between two results of the same
	// person: close to 1 for stable analytes such as HbA1c and creatinine.
	Personal float64

	Ranges []interval
}

const adultAge = 18

var catalogue = []analyte{
	// Chemistry, serum or plasma.
	{Key: "glucose", Text: "Glucose", Code: "2345-7", Display: "Glucose [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: 50, CritHigh: 400, Personal: 0.5,
		Ranges: []interval{{MinAge: 0, Low: 70, High: 99, Mean: 88, SD: 7.5}}},
	{Key: "bun", Text: "Urea nitrogen (BUN)", Code: "3094-0", Display: "Urea nitrogen [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: open, CritHigh: 100, Personal: 0.6,
		Ranges: []interval{{MinAge: 0, Low: 7, High: 20}}},
	{Key: "creatinine", Text: "Creatinine", Code: "2160-0", Display: "Creatinine [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", Decimals: 2, CritLow: open, CritHigh: 10, Personal: 0.85,
		Ranges: []interval{
			{Sex: male, MinAge: adultAge, Low: 0.74, High: 1.35},
			{Sex: female, MinAge: adultAge, Low: 0.59, High: 1.04},
		}},
	{Key: "sodium", Text: "Sodium", Code: "2951-2", Display: "Sodium [Moles/volume] in Serum or Plasma",
		Unit: "mmol/L", UCUM: "mmol/L", CritLow: 120, CritHigh: 160, Personal: 0.5,
		Ranges: []interval{{MinAge: 0, Low: 135, High: 145}}},
	{Key: "potassium", Text: "Potassium", Code: "2823-3", Display: "Potassium [Moles/volume] in Serum or Plasma",
		Unit: "mmol/L", UCUM: "mmol/L", Decimals: 1, CritLow: 2.8, CritHigh: 6.2, Personal: 0.4,
		Ranges: []interval{{MinAge: 0, Low: 3.5, High: 5.1}}},
	{Key: "chloride", Text: "Chloride", Code: "2075-0", Display: "Chloride [Moles/volume] in Serum or Plasma",
		Unit: "mmol/L", UCUM: "mmol/L", CritLow: 80, CritHigh: 120, Personal: 0.5,
		Ranges: []interval{{MinAge: 0, Low: 98, High: 107}}},
	{Key: "co2", Text: "Carbon dioxide (CO2)", Code: "2028-9", Display: "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
		Unit: "mmol/L", UCUM: "mmol/L", CritLow: 10, CritHigh: 40, Personal: 0.4,
		Ranges: []interval{{MinAge: 0, Low: 22, High: 29}}},
	{Key: "calcium", Text: "Calcium", Code: "17861-6", Display: "Calcium [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", Decimals: 1, CritLow: 6.5, CritHigh: 13, Personal: 0.6,
		Ranges: []interval{{MinAge: 0, Low: 8.6, High: 10.3}}},
	{Key: "albumin", Text: "Albumin", Code: "1751-7", Display: "Albumin [Mass/volume] in Serum or Plasma",
		Unit: "g/dL", UCUM: "g/dL", Decimals: 1, CritLow: open, CritHigh: open, Personal: 0.7,
		Ranges: []interval{{MinAge: adultAge, Low: 3.5, High: 5.0}}},
	{Key: "protein", Text: "Total protein", Code: "2885-2", Display: "Protein [Mass/volume] in Serum or Plasma",
		Unit: "g/dL", UCUM: "g/dL", Decimals: 1, CritLow: open, CritHigh: open, Personal: 0.7,
		Ranges: []interval{{MinAge: adultAge, Low: 6.0, High: 8.3}}},
	{Key: "alp", Text: "Alkaline phosphatase", Code: "6768-6", Display: "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
		Unit: "U/L", UCUM: "U/L", CritLow: open, CritHigh: open, LogNormal: true, Personal: 0.8,
		Ranges: []interval{{MinAge: adultAge, Low: 44, High: 147, Mean: 80, SD: 22}}},
	{Key: "alt", Text: "ALT", Code: "1742-6", Display: "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
		Unit: "U/L", UCUM: "U/L", CritLow: open, CritHigh: open, LogNormal: true, Personal: 0.7,
		Ranges: []interval{
			{Sex: male, MinAge: adultAge, Low: 7, High: 55, Mean: 26, SD: 9},
			{Sex: female, MinAge: adultAge, Low: 7, High: 45, Mean: 19, SD: 7},
		}},
	{Key: "ast", Text: "AST", Code: "1920-8", Display: "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
		Unit: "U/L", UCUM: "U/L", CritLow: open, CritHigh: open, LogNormal: true, Personal: 0.7,
		Ranges: []interval{
			{Sex: male, MinAge: adultAge, Low: 8, High: 48, Mean: 24, SD: 7},
			{Sex: female, MinAge: adultAge, Low: 8, High: 43, Mean: 21, SD: 6},
		}},
	{Key: "bilirubin", Text: "Total bilirubin", Code: "1975-2", Display: "Bilirubin.total [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", Decimals: 1, CritLow: open, CritHigh: 15, LogNormal: true, Personal: 0.8,
		Ranges: []interval{{MinAge: adultAge, Low: 0.1, High: 1.2, Mean: 0.55, SD: 0.22}}},

	// Haematology, whole blood (EDTA).
	{Key: "wbc", Text: "White blood cells", Code: "6690-2", Display: "Leukocytes [#/volume] in Blood by Automated count",
		Unit: "10^3/uL", UCUM: "10*3/uL", Decimals: 1, CritLow: 2.0, CritHigh: 30, Personal: 0.5,
		Ranges: []interval{
			{MinAge: 1, MaxAge: adultAge - 1, Low: 4.5, High: 13.5},
			{MinAge: adultAge, Low: 4.5, High: 11.0},
		}},
	{Key: "rbc", Text: "Red blood cells", Code: "789-8", Display: "Erythrocytes [#/volume] in Blood by Automated count",
		Unit: "10^6/uL", UCUM: "10*6/uL", Decimals: 2, CritLow: open, CritHigh: open, Personal: 0.8,
		Ranges: []interval{
			{MinAge: 1, MaxAge: adultAge - 1, Low: 4.0, High: 5.2},
			{Sex: male, MinAge: adultAge, Low: 4.35, High: 5.65},
			{Sex: female, MinAge: adultAge, Low: 3.92, High: 5.13},
		}},
	{Key: "hgb", Text: "Hemoglobin", Code: "718-7", Display: "Hemoglobin [Mass/volume] in Blood",
		Unit: "g/dL", UCUM: "g/dL", Decimals: 1, CritLow: 7.0, CritHigh: 20, Personal: 0.8,
		Ranges: []interval{
			{MinAge: 1, MaxAge: adultAge - 1, Low: 11.5, High: 15.5},
			{Sex: male, MinAge: adultAge, Low: 13.2, High: 16.6},
			{Sex: female, MinAge: adultAge, Low: 11.6, High: 15.0},
		}},
	{Key: "hct", Text: "Hematocrit", Code: "4544-3", Display: "Hematocrit [Volume Fraction] of Blood by Automated count",
		Unit: "%", UCUM: "%", Decimals: 1, CritLow: 20, CritHigh: 60, Personal: 0.8,
		Ranges: []interval{
			{MinAge: 1, MaxAge: adultAge - 1, Low: 34.0, High: 45.0},
			{Sex: male, MinAge: adultAge, Low: 38.3, High: 48.6},
			{Sex: female, MinAge: adultAge, Low: 35.5, High: 44.9},
		}},
	{Key: "mcv", Text: "MCV", Code: "787-2", Display: "MCV [Entitic volume] by Automated count",
		Unit: "fL", UCUM: "fL", Decimals: 1, CritLow: open, CritHigh: open, Personal: 0.9,
		Ranges: []interval{
			{MinAge: 1, MaxAge: adultAge - 1, Low: 75.0, High: 95.0},
			{MinAge: adultAge, Low: 80.0, High: 100.0},
		}},
	{Key: "plt", Text: "Platelets", Code: "777-3", Display: "Platelets [#/volume] in Blood by Automated count",
		Unit: "10^3/uL", UCUM: "10*3/uL", CritLow: 20, CritHigh: 1000, Personal: 0.7,
		Ranges: []interval{{MinAge: 1, Low: 150, High: 450, Mean: 270, SD: 60}}},

	// Lipids, serum. Adults: ATP III; children: NHLBI 2011 acceptable limits.
	// Total cholesterol is computed from its parts (Friedewald), so its row
	// has no distribution.
	{Key: "chol", Text: "Total cholesterol", Code: "2093-3", Display: "Cholesterol [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: open, CritHigh: open, Personal: 0.8,
		Ranges: []interval{
			{MinAge: 2, MaxAge: adultAge - 1, Low: open, High: 169},
			{MinAge: adultAge, Low: open, High: 199},
		}},
	{Key: "ldl", Text: "LDL cholesterol", Code: "13457-7", Display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: open, CritHigh: open, Personal: 0.8,
		Ranges: []interval{
			{MinAge: 2, MaxAge: adultAge - 1, Low: open, High: 109, Mean: 88, SD: 12},
			{MinAge: adultAge, Low: open, High: 129, Mean: 104, SD: 14},
		}},
	{Key: "hdl", Text: "HDL cholesterol", Code: "2085-9", Display: "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: open, CritHigh: open, Personal: 0.85,
		Ranges: []interval{
			{MinAge: 2, MaxAge: adultAge - 1, Low: 45, High: open, Mean: 56, SD: 6},
			{Sex: male, MinAge: adultAge, Low: 40, High: open, Mean: 50, SD: 6},
			{Sex: female, MinAge: adultAge, Low: 50, High: open, Mean: 62, SD: 7},
		}},
	{Key: "trig", Text: "Triglycerides", Code: "2571-8", Display: "Triglyceride [Mass/volume] in Serum or Plasma",
		Unit: "mg/dL", UCUM: "mg/dL", CritLow: open, CritHigh: 1000, LogNormal: true, Personal: 0.6,
		Ranges: []interval{
			{MinAge: 2, MaxAge: adultAge - 1, Low: open, High: 89, Mean: 62, SD: 11},
			{MinAge: adultAge, Low: open, High: 149, Mean: 100, SD: 20},
		}},

	// Diabetes and thyroid.
	{Key: "hba1c", Text: "Hemoglobin A1c", Code: "4548-4", Display: "Hemoglobin A1c/Hemoglobin.total in Blood",
		Unit: "%", UCUM: "%", Decimals: 1, CritLow: open, CritHigh: open, Personal: 0.9,
		Ranges: []interval{{MinAge: adultAge, Low: 4.0, High: 5.6, Mean: 5.2, SD: 0.2}}},
	{Key: "tsh", Text: "TSH", Code: "3016-3", Display: "Thyrotropin [Units/volume] in Serum or Plasma",
		Unit: "mIU/L", UCUM: "m[IU]/L", Decimals: 2, CritLow: open, CritHigh: open, LogNormal: true, Personal: 0.8,
		Ranges: []interval{{MinAge: adultAge, Low: 0.40, High: 4.50, Mean: 1.7, SD: 0.6}}},

	// Urinalysis by test strip.
	{Key: "ua-ph", Text: "Urine pH", Code: "5803-2", Display: "pH of Urine by Test strip",
		Unit: "pH", UCUM: "[pH]", Decimals: 1, CritLow: open, CritHigh: open, Personal: 0.3,
		Ranges: []interval{{MinAge: 0, Low: 5.0, High: 8.0, Mean: 6.0, SD: 0.6}}},
	{Key: "ua-sg", Text: "Urine specific gravity", Code: "5811-5", Display: "Specific gravity of Urine by Test strip",
		Unit: "", UCUM: "1", Decimals: 3, CritLow: open, CritHigh: open, Personal: 0.2,
		Ranges: []interval{{MinAge: 0, Low: 1.005, High: 1.030, Mean: 1.018, SD: 0.0055}}},
	{Key: "ua-glucose", Text: "Urine glucose", Code: "25428-4", Display: "Glucose [Presence] in Urine by Test strip", Kind: presence},
	{Key: "ua-protein", Text: "Urine protein", Code: "20454-5", Display: "Protein [Presence] in Urine by Test strip", Kind: presence},
	{Key: "ua-ketones", Text: "Urine ketones", Code: "2514-8", Display: "Ketones [Presence] in Urine by Test strip", Kind: presence},
}

// specimenType is the SNOMED CT specimen type of a panel.
type specimenType struct{ Code, Display string }

var (
	serumSpecimen = specimenType{"119364003", "Serum specimen"}
	bloodSpecimen = specimenType{"119297000", "Blood specimen"}
	urineSpecimen = specimenType{"122575003", "Urine specimen"}
)

// panel is one orderable: a LOINC panel, or a single test ordered alone.
type panel struct {
	Key      string // stable key; never change it
	Code     string // LOINC
	Display  string // LOINC long common name
	Text     string // the name clinicians use
	Specimen specimenType
	Analytes []string // catalogue keys, in report order

	// TATMin and TATMax bound the turnaround, in hours from collection to
	// the first report; Prelim is the share of orders whose first report is
	// preliminary, with the final report a few hours to a day and a half
	// later.
	TATMin, TATMax float64
	Prelim         float64
}

var panels = []panel{
	{Key: "bmp", Code: "24321-2", Display: "Basic metabolic 2000 panel - Serum or Plasma", Text: "Basic metabolic panel",
		Specimen: serumSpecimen, TATMin: 2, TATMax: 6, Prelim: 0.2,
		Analytes: []string{"glucose", "bun", "creatinine", "sodium", "potassium", "chloride", "co2", "calcium"}},
	{Key: "cmp", Code: "24323-8", Display: "Comprehensive metabolic 2000 panel - Serum or Plasma", Text: "Comprehensive metabolic panel",
		Specimen: serumSpecimen, TATMin: 3, TATMax: 8, Prelim: 0.3,
		Analytes: []string{"glucose", "bun", "creatinine", "sodium", "potassium", "chloride", "co2", "calcium",
			"albumin", "protein", "alp", "alt", "ast", "bilirubin"}},
	{Key: "cbc", Code: "58410-2", Display: "CBC panel - Blood by Automated count", Text: "Complete blood count",
		Specimen: bloodSpecimen, TATMin: 1, TATMax: 4, Prelim: 0.25,
		Analytes: []string{"wbc", "rbc", "hgb", "hct", "mcv", "plt"}},
	{Key: "lipid", Code: "24331-1", Display: "Lipid 1996 panel - Serum or Plasma", Text: "Lipid panel",
		Specimen: serumSpecimen, TATMin: 4, TATMax: 12, Prelim: 0.15,
		Analytes: []string{"chol", "trig", "hdl", "ldl"}},
	{Key: "hba1c", Code: "4548-4", Display: "Hemoglobin A1c/Hemoglobin.total in Blood", Text: "Hemoglobin A1c",
		Specimen: bloodSpecimen, TATMin: 6, TATMax: 26,
		Analytes: []string{"hba1c"}},
	{Key: "tsh", Code: "3016-3", Display: "Thyrotropin [Units/volume] in Serum or Plasma", Text: "TSH",
		Specimen: serumSpecimen, TATMin: 8, TATMax: 36,
		Analytes: []string{"tsh"}},
	{Key: "ua", Code: "24357-6", Display: "Urinalysis macro (dipstick) panel - Urine", Text: "Urinalysis",
		Specimen: urineSpecimen, TATMin: 1, TATMax: 3,
		Analytes: []string{"ua-ph", "ua-sg", "ua-glucose", "ua-protein", "ua-ketones"}},
}

// analyteIndex maps an analyte key to its position in catalogue.
var analyteIndex = func() map[string]int {
	m := make(map[string]int, len(catalogue))
	for i, a := range catalogue {
		m[a.Key] = i
	}
	return m
}()

// interval returns the reference interval of a for a person of sex s aged
// age years, and false when the catalogue has none.
func (a *analyte) interval(s sex, age int) (interval, bool) {
	for _, r := range a.Ranges {
		if (r.Sex == anySex || r.Sex == s) && age >= r.MinAge && (r.MaxAge == 0 || age <= r.MaxAge) {
			if r.Mean == 0 && r.SD == 0 && r.Low != open && r.High != open {
				r.Mean = (r.Low + r.High) / 2
				r.SD = (r.High - r.Low) / 4.4
			}
			return r, true
		}
	}
	return interval{}, false
}
