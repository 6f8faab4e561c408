package sms_test

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/notify/sms"
)

func TestKeywordOf(t *testing.T) {
	tests := []struct {
		body string
		want sms.Keyword
	}{
		{"STOP", sms.Stop}, {"stop", sms.Stop}, {"  Stop\n", sms.Stop}, {"S T O P", sms.Stop}, {"STOPALL", sms.Stop},
		{"stop all", sms.Stop}, {"unsubscribe", sms.Stop}, {"Cancel", sms.Stop}, {"END", sms.Stop}, {"quit", sms.Stop},
		{"revoke", sms.Stop}, {"OPTOUT", sms.Stop}, {"opt-out", sms.None}, {"parar", sms.Stop}, {"Basta", sms.Stop},
		{"ALTO", sms.Stop}, {"¡Alto!", sms.Stop}, {"stop!", sms.Stop},
		{"START", sms.Start}, {"unstop", sms.Start}, {"yes", sms.Start}, {"SI", sms.Start}, {"sí", sms.Start},
		{"SÍ", sms.Start}, {"si\u0301", sms.Start},
		{"HELP", sms.Help}, {"info", sms.Help}, {"Ayuda", sms.Help}, {"¿ayuda?", sms.Help},
		{"", sms.None}, {"please stop", sms.None}, {"STOP now", sms.None}, {"stopp", sms.None}, {"no", sms.None},
		{"STOP" + strings.Repeat(" ", 100), sms.Stop}, {strings.Repeat("stop", 100), sms.None},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := sms.KeywordOf(tt.body); got != tt.want {
				t.Errorf("KeywordOf(%q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, want, wantErr string
	}{
		{raw: "+1 (555) 123-4567", want: "+15551234567"},
		{raw: "+15551234567", want: "+15551234567"},
		{raw: " +44 20 7946 0958 ", want: "+442079460958"},
		{raw: "+34.612.345.678", want: "+34612345678"},
		{raw: "+12345678", want: "+12345678"},
		{raw: "+123456789012345", want: "+123456789012345"},
		{raw: "5551234567", wantErr: "starts with +"},
		{raw: "001 555 123 4567", wantErr: "starts with +"},
		{raw: "", wantErr: "starts with +"},
		{raw: "+1234567", wantErr: "at least 8"},
		{raw: "+1234567890123456", wantErr: "at most 15"},
		{raw: "+0 555 123 4567", wantErr: "does not start with 0"},
		{raw: "+1 555 CALL NOW", wantErr: "'C'"},
		{raw: "+1 555 123 4567 x89", wantErr: "'x'"},
		{raw: "++15551234567", wantErr: "'+'"},
		{raw: "+1 555 ١٢٣ 4567", wantErr: "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := sms.NormalizePhone(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want an error about %q", tt.raw, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int
	}{
		{name: "empty", body: "", want: 0},
		{name: "one GSM character", body: "a", want: 1},
		{name: "160 GSM characters", body: strings.Repeat("a", 160), want: 1},
		{name: "161 GSM characters", body: strings.Repeat("a", 161), want: 2},
		{name: "306 GSM characters", body: strings.Repeat("a", 306), want: 2},
		{name: "307 GSM characters", body: strings.Repeat("a", 307), want: 3},
		{name: "GSM accents stay GSM", body: strings.Repeat("é", 160), want: 1},
		{name: "80 euro signs fill one", body: strings.Repeat("€", 80), want: 1},
		{name: "81 euro signs need two", body: strings.Repeat("€", 81), want: 2},
		{name: "an escape pair is not split", body: strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), want: 2},
		{name: "escape pair at a segment's end moves on", body: strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), want: 3},
		{name: "one UCS-2 character", body: "á", want: 1},
		{name: "70 UCS-2 characters", body: strings.Repeat("á", 70), want: 1},
		{name: "71 UCS-2 characters", body: strings.Repeat("á", 71), want: 2},
		{name: "134 UCS-2 characters", body: strings.Repeat("á", 134), want: 2},
		{name: "135 UCS-2 characters", body: strings.Repeat("á", 135), want: 3},
		{name: "Spanish with ¿ stays GSM", body: "¿Tiene preguntas? Llame al consultorio.", want: 1},
		{name: "one emoji turns it UCS-2", body: strings.Repeat("a", 69) + "🙂", want: 2},
		{name: "35 emoji fill one", body: strings.Repeat("🙂", 35), want: 1},
		{name: "a surrogate pair is not split", body: strings.Repeat("a", 66) + "🙂" + strings.Repeat("a", 10), want: 2},
		{name: "surrogate pair at a segment's end moves on", body: strings.Repeat("a", 66) + "🙂" + strings.Repeat("a", 66), want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sms.Segments(tt.body); got != tt.want {
				t.Errorf("Segments = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestKeywordString(t *testing.T) {
	for k, want := range map[sms.Keyword]string{sms.None: "", sms.Stop: "STOP", sms.Start: "START", sms.Help: "HELP"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", k, got, want)
		}
	}
}
