package fhir

import (
	"testing"
	"time"
)

func TestStamp(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 30, 0, 123e6, time.UTC)
	cases := []struct {
		name, in, want string
	}{
		{"no id, no meta", `{"resourceType":"Patient","active":true}`,
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-23T10:30:00.123Z"},"active":true}`},
		{"id kept in place, meta added after it", `{"active":true,"resourceType":"Patient","id":"old"}`,
			`{"active":true,"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-23T10:30:00.123Z"}}`},
		{"meta members kept, stale version replaced", `{"resourceType":"Patient","meta":{"versionId":"9","tag":[{"code":"x"}],"lastUpdated":"2001-01-01T00:00:00Z","profile":["http://p"]},"id":"p1"}`,
			`{"resourceType":"Patient","meta":{"versionId":"3","lastUpdated":"2026-11-23T10:30:00.123Z","tag":[{"code":"x"}],"profile":["http://p"]},"id":"p1"}`},
		{"a repeated meta member once, its last value", `{"resourceType":"Patient","meta":{"source":"a","tag":[],"source":"b"}}`,
			`{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-23T10:30:00.123Z","tag":[],"source":"b"}}`},
		{"nested objects untouched", `{"resourceType":"Observation","code":{"text":"a \"b\" <c>"},"meta":{}}`,
			`{"resourceType":"Observation","id":"p1","code":{"text":"a \"b\" <c>"},"meta":{"versionId":"3","lastUpdated":"2026-11-23T10:30:00.123Z"}}`},
	}
	for _, c := range cases {
		got, err := stamp([]byte(c.in), "p1", 3, at)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Member order is part of the promise: members as received.
		if string(got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	// The same preparation stamps any number of versions.
	sp, err := prepareStamp([]byte(`{"resourceType":"Patient"}`), "x")
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := string(sp.stamp(1, at)), string(sp.stamp(2, at.Add(time.Second)))
	if v1 != `{"resourceType":"Patient","id":"x","meta":{"versionId":"1","lastUpdated":"2026-11-23T10:30:00.123Z"}}` ||
		v2 != `{"resourceType":"Patient","id":"x","meta":{"versionId":"2","lastUpdated":"2026-11-23T10:30:01.123Z"}}` {
		t.Errorf("stamped: %s / %s", v1, v2)
	}
	for _, bad := range []string{`{"id":"x"}`, `{"resourceType":"Patient","meta":[]}`, `[1]`, `{"resourceType":"Patient"} x`} {
		if _, err := stamp([]byte(bad), "x", 1, at); err == nil {
			t.Errorf("stamp(%s) accepted", bad)
		}
	}
}
