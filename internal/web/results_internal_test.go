package web

import (
	"testing"
	"time"
)

func TestTimeLeft(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		due  time.Duration
		want string
	}{
		{"half an hour ahead", 30 * time.Minute, "due in 30 min"},
		{"minutes round down", 12*time.Minute + 59*time.Second, "due in 12 min"},
		{"seconds ahead", 20 * time.Second, "due in less than 1 min"},
		{"exactly now", 0, "overdue by less than 1 min"},
		{"two hours late", -2*time.Hour - 10*time.Minute, "overdue by 2 h"},
		{"a day and a half ahead", 36 * time.Hour, "due in 36 h"},
		{"two business days ahead", 50 * time.Hour, "due in 2 days"},
		{"a week late", -7 * 24 * time.Hour, "overdue by 7 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := timeLeft(now.Add(tt.due), now); got != tt.want {
				t.Errorf("timeLeft = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCauseWords(t *testing.T) {
	tests := []struct{ cause, words, href string }{
		{"api:acknowledge", "Reviewed by a clinician", ""},
		{"deadline:acknowledge", "Acknowledgement deadline passed", ""},
		{"DiagnosticReport/r1/_history/2", "FHIR write: DiagnosticReport/r1, version 2", "/fhir/DiagnosticReport/r1/_history/2"},
		{"something new", "something new", ""},
	}
	for _, tt := range tests {
		if words, href := causeWords(tt.cause); words != tt.words || href != tt.href {
			t.Errorf("causeWords(%q) = %q, %q; want %q, %q", tt.cause, words, href, tt.words, tt.href)
		}
	}
}
