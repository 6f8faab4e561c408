package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/fhirtest"
)

// reference decodes data as encoding/json does for an `any` with
// UseNumber, requiring exactly one value.
func reference(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errors.New("invalid")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// referenceMembers splits a JSON object with encoding/json's tokenizer.
func referenceMembers(data []byte) ([]Member, error) {
	if !json.Valid(data) {
		return nil, errors.New("invalid")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var out []Member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Member{tok.(string), bytes.TrimSpace(v)})
	}
	return out, nil
}

// countStrings counts, with encoding/json's tokenizer, the string values
// of members named key in data, members whose name repeats included.
func countStrings(t *testing.T, data []byte, key string) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type level struct{ object, wantKey bool }
	var stack []level
	n, named := 0, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:top]
				if top--; top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				continue
			}
			named = tok.(string) == key
			stack[top].wantKey = false
			continue
		}
		if _, ok := tok.(string); ok && named {
			n++
		}
		named = false
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
			top--
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

// check holds Decode, DecodeCompact and Members to encoding/json on data.
func check(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := reference(data)
	got, err := Decode(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: Decode error %v, encoding/json error %v", data, err, wantErr)
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset < 0 || se.Offset > int64(len(data)) {
			t.Fatalf("%q: error %v is not a SyntaxError with an offset in the input", data, err)
		}
		if _, _, _, err := DecodeCompact(data, "reference"); err == nil {
			t.Fatalf("%q: DecodeCompact accepted what Decode refused", data)
		}
		if _, err := Members(data); err == nil {
			t.Fatalf("%q: Members accepted malformed JSON", data)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Decode gave %#v, encoding/json %#v", data, got, want)
	}
	v, compact, spans, err := DecodeCompact(data, "reference")
	if err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("%q: DecodeCompact gave %#v, %v", data, v, err)
	}
	var wantCompact bytes.Buffer
	if err := json.Compact(&wantCompact, data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact, wantCompact.Bytes()) {
		t.Fatalf("%q: compacted to %q, json.Compact gives %q", data, compact, wantCompact.Bytes())
	}
	if n := countStrings(t, data, "reference"); len(spans) != n {
		t.Fatalf("%q: %d spans, want %d", data, len(spans), n)
	}
	for _, sp := range spans {
		lit := compact[sp.Start:sp.End]
		var s string
		if err := json.Unmarshal(lit, &s); err != nil {
			t.Fatalf("%q: span %q is not a string literal: %v", data, lit, err)
		}
	}
	wantMembers, wantErr := referenceMembers(data)
	members, err := Members(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: Members error %v, reference %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(members, wantMembers) && !(len(members) == 0 && len(wantMembers) == 0) {
		t.Fatalf("%q: Members gave %q, want %q", data, members, wantMembers)
	}
}

var samples = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `"x"`, ` {"a" : [1, 2 ,{"b":null}] } `,
	`{"reference":"Patient/1","x":{"reference":"urn:uuid:abc"},"y":[{"reference":"a\"b"}],"reference2":"no"}`,
	`{"reference":1,"a":{"reference":{"reference":"in"}}}`,
	`{"a":1,"a":2}`, `{"\u00e9":"\ud83d\ude00","x":"\ud800","y":"\udc00\u0041","z":"\\u0041"}`,
	"{\"bad utf8\":\"\xff\xfe\",\"\xc3\":1}", `"\/\b\f\n\r\t\""`, `{"resourceType":"Patient","name":[{"given":["Ann"]}]}`,
	// malformed
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `1e`, `-`, `.5`, `+1`, `tru`, `nul`, `truex`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\nb\"", `{"a":1}x`, `{1:2}`, `[}`, `{"a":1]`, "\xef\xbb\xbf{}", `{"a" 1}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		check(t, []byte(s))
	}
}

// TestSyntheaResources holds every resource of the shared Synthea bundles
// to encoding/json.
func TestSyntheaResources(t *testing.T) {
	for _, raw := range syntheaResources(t, 0) {
		check(t, raw)
	}
}

func syntheaResources(tb testing.TB, limit int) []json.RawMessage {
	files := fhirtest.SyntheaFiles(tb)
	var out []json.RawMessage
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var b struct {
			Entry []struct{ Resource json.RawMessage }
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			tb.Fatal(err)
		}
		for _, e := range b.Entry {
			out = append(out, e.Resource)
			if limit > 0 && len(out) == limit {
				return out
			}
		}
	}
	return out
}

func TestErrorsNameTheProblem(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,}`:        `invalid character '}' looking for beginning of object key string`,
		`{"resourceType"`: `unexpected end of JSON input`,
		`[1 2]`:           `invalid character '2' after array element`,
		`{"a":tru}`:       `invalid character '}' in literal true (expecting 'e')`,
		`{"a":1} x`:       `invalid character 'x' after top-level value`,
	} {
		_, err := Decode([]byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	var se *SyntaxError
	if _, err := Decode([]byte(`{"a":1,}`)); !errors.As(err, &se) || se.Offset != 7 {
		t.Errorf("offset of the bad byte: %v", err)
	}
	if _, err := Members([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "object") {
		t.Errorf("Members of an array: %v", err)
	}
}

// checkAppendString holds AppendString and AppendHTMLSafeString to
// encoding/json's encoder with HTML escaping off and on.
func checkAppendString(t *testing.T, s string) {
	t.Helper()
	for _, html := range []bool{false, true} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := AppendString([]byte("x"), s)
		if html {
			got = AppendHTMLSafeString([]byte("x"), s)
		}
		if string(got) != "x"+strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("%q (HTML escaping %v) = %s, want %s", s, html, got, want.String())
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "Patient/1", "a\"b\\c", "line\nfeed\ttab\x00\x1f\x7f", "<&>", "\u2028\u2029", "\xff", "é😀", "\xe2\x80"} {
		checkAppendString(t, s)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
	})
}

func FuzzAppendString(f *testing.F) {
	f.Add("Patient/1")
	f.Add("\u2028<\xff\"")
	f.Fuzz(checkAppendString)
}

// BenchmarkDecode decodes the first 500 Synthea resources with this
// package and with encoding/json (a Decoder with UseNumber, as the FHIR
// import used before).
//
//	go test -run XXX -bench Decode -benchmem ./internal/platform/jsonx/
func BenchmarkDecode(b *testing.B) {
	resources := syntheaResources(b, 500)
	size := 0
	for _, r := range resources {
		size += len(r)
	}
	b.Run("jsonx", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range resources {
				if _, err := Decode(r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("jsonx-compact", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range resources {
				if _, _, _, err := DecodeCompact(r, "reference"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range resources {
				dec := json.NewDecoder(bytes.NewReader(r))
				dec.UseNumber()
				var v any
				if err := dec.Decode(&v); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
		}
	})
}
