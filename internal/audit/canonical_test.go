package audit

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// marshalCanonical is the reference encoding of an entry: encoding/json of
// the canonical struct, which the hand-written encoder must match byte for
// byte (entries stored by earlier versions were encoded this way).
func marshalCanonical(t testing.TB, e *Entry) []byte {
	c := canonical{
		V: canonicalVersion, ID: e.ID, OrgID: e.OrgID,
		Recorded: e.Recorded.UTC().Format(recordedLayout),
		Type:     e.Type, Subtype: nonNil(e.Subtype), Action: e.Action, Outcome: e.Outcome,
		OutcomeDesc: e.OutcomeDesc, Agent: e.Agent, Patients: nonNil(e.Patients),
		Entities: nonNil(e.Entities), RequestID: e.RequestID,
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCanonicalMatchesJSON(t *testing.T) {
	at := time.Date(2026, 11, 24, 1, 2, 3, 456789000, time.UTC)
	for _, e := range []Entry{
		{},
		{ID: "0193", OrgID: "org", Recorded: at, Type: TypeRest, Subtype: []Coding{Interaction("read")}, Action: Read,
			Agent:    Agent{Subject: "account/1", Role: "clinician", PurposeOfUse: "TREAT", Address: "127.0.0.1"},
			Patients: []string{"Patient/a", "Patient/b"}, Entities: []Entity{{What: "Observation/1"}, {Query: "code=1&date=ge2020"}}, RequestID: "r1"},
		{Type: Coding{Code: "x"}, Agent: Agent{ClientID: "c"}, Entities: []Entity{{}}, OutcomeDesc: "refused <by> \"the\" policy & more\n\t\r\b\f\x00\x1f\x7f"},
		{OutcomeDesc: "\u2028\u2029 é ü 漢字 \xff\xfe bad \xe2\x82 utf8 😀", Agent: Agent{Name: "Zoë O'Brien \\ /"}},
		{Outcome: MajorFailure, Action: Execute, Subtype: []Coding{Subtype("break-glass"), {System: "s", Code: "c", Display: "d"}}},
	} {
		got, want := e.Canonical(), marshalCanonical(t, &e)
		if !bytes.Equal(got, want) {
			t.Errorf("canonical bytes differ:\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzCanonicalMatchesJSON(f *testing.F) {
	f.Add("id", "org", "subject", "query", "Patient/1", int64(0))
	f.Add("<&>", "\u2028", "\xff", "\x00", "é", int64(1732400000123456))
	f.Fuzz(func(t *testing.T, id, org, subject, query, patient string, micros int64) {
		e := Entry{ID: id, OrgID: org, Recorded: time.UnixMicro(micros % 253402300799000000), Type: Coding{Code: query, Display: subject},
			Action: Action(id), Agent: Agent{Subject: subject, Address: org}, Patients: []string{patient},
			Entities: []Entity{{What: patient, Query: query}}, RequestID: query, OutcomeDesc: subject + query}
		if got, want := e.Canonical(), marshalCanonical(t, &e); !bytes.Equal(got, want) {
			t.Fatalf("canonical bytes differ:\n got %s\nwant %s", got, want)
		}
	})
}

// decodeSearchFields is the reference reading of the search columns:
// encoding/json of the canonical bytes.
func decodeSearchFields(t testing.TB, body []byte) searchFields {
	var c struct {
		OrgID    string `json:"org"`
		Recorded string `json:"recorded"`
		Action   string `json:"action"`
		Outcome  int    `json:"outcome"`
		Agent    struct {
			Subject string `json:"subject"`
		} `json:"agent"`
		Patients []string `json:"patients"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return searchFields{OrgID: c.OrgID, Recorded: c.Recorded, Action: c.Action, Outcome: c.Outcome,
		Subject: c.Agent.Subject, Patients: c.Patients}
}

func checkSearchFields(t testing.TB, e *Entry) {
	body := e.Canonical()
	var got searchFields
	if err := got.parse(body); err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	want := decodeSearchFields(t, body)
	if got.OrgID != want.OrgID || got.Recorded != want.Recorded || got.Action != want.Action ||
		got.Outcome != want.Outcome || got.Subject != want.Subject || !slices.Equal(got.Patients, want.Patients) {
		t.Fatalf("search fields of %s:\n got %+v\nwant %+v", body, got, want)
	}
}

// TestSearchFieldsParse checks that the sequencer reads the search columns
// from an entry's bytes as encoding/json does, and refuses what is not an
// entry's JSON object.
func TestSearchFieldsParse(t *testing.T) {
	at := time.Date(2026, 11, 24, 1, 2, 3, 456789000, time.UTC)
	for _, e := range []Entry{
		{},
		{ID: "0193", OrgID: "org", Recorded: at, Type: TypeRest, Action: Read, Outcome: MinorFailure,
			Agent:    Agent{Subject: "account/1", Role: "clinician"},
			Patients: []string{"Patient/a", "Patient/b"}, Entities: []Entity{{What: "Observation/1"}}},
		{OrgID: "o \"quoted\" \\ é", Agent: Agent{Subject: "\u2028😀"}, Patients: []string{"Patient/\n"}},
	} {
		checkSearchFields(t, &e)
	}
	for _, bad := range []string{``, `{`, `[1,2]`, `"x"`, `{"outcome":"4"}`, `{"org":"a",}`} {
		var f searchFields
		if err := f.parse([]byte(bad)); err == nil {
			t.Errorf("parse(%q) = nil error, want one", bad)
		}
	}
}

func FuzzSearchFieldsParse(f *testing.F) {
	f.Add("org", "account/1", "Patient/1", "R", int64(0))
	f.Add("\xff\u2028", "\x00", "é\"", "", int64(1732400000123456))
	f.Fuzz(func(t *testing.T, org, subject, patient, action string, micros int64) {
		e := Entry{OrgID: org, Recorded: time.UnixMicro(micros % 253402300799000000), Action: Action(action),
			Outcome: Outcome(micros % 16), Agent: Agent{Subject: subject}, Patients: []string{patient, org}}
		checkSearchFields(t, &e)
	})
}

// TestHashesMatchRFC6962 checks the allocation-free hashes against the
// library's RFC 6962 hasher.
func TestHashesMatchRFC6962(t *testing.T) {
	lh := newLeafHasher()
	for _, n := range []int{0, 1, 31, 32, 33, 550, 4096} {
		b := bytes.Repeat([]byte{byte(n)}, n)
		if got, want := lh.sum(b), hasher.HashLeaf(b); !bytes.Equal(got, want) {
			t.Errorf("leaf hash of %d bytes: %x, want %x", n, got, want)
		}
	}
	l, r := hasher.HashLeaf([]byte("l")), hasher.HashLeaf([]byte("r"))
	if got, want := hashChildren(l, r), hasher.HashChildren(l, r); !bytes.Equal(got, want) {
		t.Errorf("node hash %x, want %x", got, want)
	}
	if got, want := hashChildren(l[:5], r), hasher.HashChildren(l[:5], r); !bytes.Equal(got, want) {
		t.Errorf("node hash of a short child %x, want %x", got, want)
	}
	// Sums are fresh slices: a second sum leaves the first as it was.
	first := lh.sum([]byte("a"))
	keep := slices.Clone(first)
	lh.sum([]byte("b"))
	if !bytes.Equal(first, keep) {
		t.Error("a later sum changed an earlier one")
	}
}
