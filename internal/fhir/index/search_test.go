package index

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseNumberValue(t *testing.T) {
	tests := []struct {
		in     string
		prefix Prefix
		value  float64
		text   string
	}{
		{"5", PrefixEq, 5, "5"},
		{"gt5", PrefixGt, 5, "5"},
		{"le-0.5", PrefixLe, -0.5, "-0.5"},
		{"100.00", PrefixEq, 100, "100.00"},
		{"ap1e3", PrefixAp, 1000, "1e3"},
		{"ne1.5E-2", PrefixNe, 0.015, "1.5E-2"},
		{"007", PrefixEq, 7, "007"},
	}
	for _, tt := range tests {
		p, v, s, err := ParseNumberValue(tt.in)
		if err != nil || p != tt.prefix || v != tt.value || s != tt.text {
			t.Errorf("ParseNumberValue(%q) = %s %v %q %v, want %s %v %q", tt.in, p, v, s, err, tt.prefix, tt.value, tt.text)
		}
	}
	for _, in := range []string{"", "gt", "abc", "1.", ".5", "+5", "5e", "1e999", "NaN", "Inf", "0x10", "1_000", "5 ", "xx5", "--5", "5mg"} {
		if _, _, _, err := ParseNumberValue(in); err == nil {
			t.Errorf("ParseNumberValue(%q): no error", in)
		} else if !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseNumberValue(%q): error %q does not name the value", in, err)
		}
	}
}

func TestImplicitRange(t *testing.T) {
	tests := []struct {
		in        string
		low, high float64
	}{
		{"100", 99.5, 100.5},
		{"100.00", 99.995, 100.005},
		{"1e2", 50, 150},
		{"1.5e2", 145, 155},
		{"-2.5", -2.55, -2.45},
		{"0.1", 0.05, 0.15},
	}
	for _, tt := range tests {
		lo, hi, err := ImplicitRange(tt.in)
		if err != nil || math.Abs(lo-tt.low) > 1e-9 || math.Abs(hi-tt.high) > 1e-9 {
			t.Errorf("ImplicitRange(%q) = %v, %v, %v; want %v, %v", tt.in, lo, hi, err, tt.low, tt.high)
		}
	}
	if _, _, err := ImplicitRange("x"); err == nil {
		t.Error("ImplicitRange(x): no error")
	}
}

func TestParseQuantityValue(t *testing.T) {
	tests := []struct {
		in     string
		prefix Prefix
		want   Quantity
	}{
		{"5.4|http://unitsofmeasure.org|mg", PrefixEq, Quantity{Value: 5.4, Decimal: "5.4", System: "http://unitsofmeasure.org", Code: "mg"}},
		{"gt5.4||mg", PrefixGt, Quantity{Value: 5.4, Decimal: "5.4", Code: "mg"}},
		{"5.4", PrefixEq, Quantity{Value: 5.4, Decimal: "5.4"}},
		{"le10|http://x|a\\|b", PrefixLe, Quantity{Value: 10, Decimal: "10", System: "http://x", Code: "a|b"}},
		{"0||", PrefixEq, Quantity{Value: 0, Decimal: "0"}},
	}
	for _, tt := range tests {
		p, q, err := ParseQuantityValue(tt.in)
		if err != nil || p != tt.prefix || q != tt.want {
			t.Errorf("ParseQuantityValue(%q) = %s %+v %v, want %s %+v", tt.in, p, q, err, tt.prefix, tt.want)
		}
	}
	for _, in := range []string{"", "mg", "5.4|mg", "5|a|b|c", "x5|s|c", "|s|c"} {
		if _, _, err := ParseQuantityValue(in); err == nil {
			t.Errorf("ParseQuantityValue(%q): no error", in)
		}
	}
}

func TestParseTokenValue(t *testing.T) {
	tests := []struct {
		in        string
		system    string
		hasSystem bool
		code      string
	}{
		{"http://loinc.org|1234-5", "http://loinc.org", true, "1234-5"},
		{"|code", "", true, "code"},
		{"http://loinc.org|", "http://loinc.org", true, ""},
		{"code", "", false, "code"},
		{"", "", false, ""},
		{"|", "", true, ""},
		{`a\|b`, "", false, "a|b"},
		{`sys|a\|b`, "sys", true, "a|b"},
		{`s\,x|c\$d`, "s,x", true, "c$d"},
		{`c\\`, "", false, `c\`},
		{`c\\|d`, `c\`, true, "d"},
		{`a|b|c`, "a", true, "b|c"},
		{`a\x`, "", false, `a\x`},
		{`trailing\`, "", false, `trailing\`},
	}
	for _, tt := range tests {
		s, has, c := ParseTokenValue(tt.in)
		if s != tt.system || has != tt.hasSystem || c != tt.code {
			t.Errorf("ParseTokenValue(%q) = %q %v %q, want %q %v %q", tt.in, s, has, c, tt.system, tt.hasSystem, tt.code)
		}
	}
}

func TestSplitOr(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"", []string{""}},
		{"a,b", []string{"a", "b"}},
		{"a,,b", []string{"a", "", "b"}},
		{`a\,b,c`, []string{`a\,b`, "c"}},
		{`a\\,b`, []string{`a\\`, "b"}},
		{`http://x|1,http://y|2`, []string{"http://x|1", "http://y|2"}},
		{`a,`, []string{"a", ""}},
		{`a\`, []string{`a\`}},
	}
	for _, tt := range tests {
		if got := SplitOr(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitOr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := SplitComposite(`http://loinc.org|8480-6$gt100\$x`); !slices.Equal(got, []string{"http://loinc.org|8480-6", `gt100\$x`}) {
		t.Errorf("SplitComposite: %q", got)
	}
}

func TestNormalizeString(t *testing.T) {
	tests := map[string]string{
		"":                          "",
		"abc":                       "abc",
		"Müller":                    "muller",
		"  Anna   Lena \t":          "anna lena",
		"ZÜRICH":                    "zurich",
		"Ærøskøbing":                "aeroskobing",
		"Straße":                    "strasse",
		"Łódź":                      "lodz",
		"François-Noël":             "francois-noel",
		"Nguyễn Thị Minh Khai":      "nguyen thi minh khai",
		"Ἀθῆναι":                    "αθηναι",
		"e\u0301cole":               "ecole", // combining acute accent
		"non\u00a0breaking\u2003sp": "non breaking sp",
		"Dr.":                       "dr.",
		"ǅemal":                     "dzemal",
		"İstanbul":                  "istanbul",
		"ﬁle":                       "file",
		"Москва":                    "москва",
		"東京":                        "東京",
		"a\nb":                      "a b",
	}
	for in, want := range tests {
		if got := NormalizeString(in); got != want {
			t.Errorf("NormalizeString(%q) = %q, want %q", in, got, want)
		}
		if got := NormalizeString(want); got != want {
			t.Errorf("NormalizeString is not idempotent on %q: %q", want, got)
		}
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want Reference
	}{
		{"Patient/123", Reference{Type: "Patient", ID: "123"}},
		{"Patient/123/_history/2", Reference{Type: "Patient", ID: "123"}},
		{"https://x.org/fhir/Patient/1", Reference{Type: "Patient", ID: "1", URL: "https://x.org/fhir/Patient/1"}},
		{"https://x.org/fhir/Patient/1/_history/7", Reference{Type: "Patient", ID: "1", URL: "https://x.org/fhir/Patient/1"}},
		{"http://example.org/fhir/Questionnaire/phq9|2.0", Reference{Type: "Questionnaire", ID: "phq9", URL: "http://example.org/fhir/Questionnaire/phq9|2.0"}},
		{"Questionnaire/phq9|2.0", Reference{Type: "Questionnaire", ID: "phq9", URL: "Questionnaire/phq9|2.0"}},
		{"urn:uuid:018f428e-34f6-4707-8009-5ad742f901e7", Reference{URL: "urn:uuid:018f428e-34f6-4707-8009-5ad742f901e7"}},
		{"urn:oid:1.2.3", Reference{URL: "urn:oid:1.2.3"}},
		{"#med1", Reference{URL: "#med1"}},
		{"http://loinc.org", Reference{URL: "http://loinc.org"}},
		{"http://hl7.org/fhir/ValueSet/my-vs", Reference{Type: "ValueSet", ID: "my-vs", URL: "http://hl7.org/fhir/ValueSet/my-vs"}},
		{"fhir/Patient/1", Reference{URL: "fhir/Patient/1"}},
		{"Patient/", Reference{URL: "Patient/"}},
		{"patient/1", Reference{URL: "patient/1"}},
		{" Patient/1 ", Reference{Type: "Patient", ID: "1"}},
	}
	for _, tt := range tests {
		got, ok := ParseReference(tt.in)
		if !ok || got != tt.want {
			t.Errorf("ParseReference(%q) = %+v %v, want %+v", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := ParseReference(" "); ok {
		t.Error("ParseReference of blank: ok")
	}
}
