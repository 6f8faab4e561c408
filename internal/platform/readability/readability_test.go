package readability

import (
	"math"
	"testing"
)

func TestMeasure(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		words, sen int
	}{
		{"empty", "", 0, 0},
		{"only space", " \n\t\n", 0, 0},
		{"one sentence without a stop", "Hello world", 2, 1},
		{"stops in a row", "Wait... what?! Yes.", 3, 3},
		{"closing quote after the stop", `She said "yes." Then left.`, 5, 2},
		{"address alone", "https://clinic.example/n/abc", 0, 0},
		{"domain and email are no words", "Write to help@clinic.example or see clinic.example now.", 5, 1},
		{"path is no word", "Open /account/notifications to choose.", 3, 1},
		{"numbers and times are no words", "Come at 9:30 on 3/4 with 2 forms.", 5, 1},
		{"and/or counts two words", "Call and/or write.", 4, 1},
		{"template actions are no words", "{{if .Name}}Hi {{.Name}}{{end}}, you are in.", 4, 1},
		{"action without its end", "Hi there. {{ .Name is", 2, 1},
		{"titles do not end a sentence", "Dr. Lee and Mrs. Diaz will call.", 7, 1},
		{"e.g. does not end a sentence", "Bring a paper, e.g. a letter.", 5, 1},
		{"soft line break", "This sentence is\nwrapped over lines.", 6, 1},
		{"blank line ends a sentence", "Hello\n\nYou have mail", 4, 2},
		{"colon at line end ends a sentence", "See it here:\nhttps://x.example/1\nThanks", 4, 2},
		{"list items are sentences", "Please bring:\n- your card\n- a pen\nCall us.", 8, 4},
		{"hyphenated word is one word", "Book a follow-up.", 3, 1},
		{"dashes separate", "Now—today—please.", 3, 1},
		{"curly apostrophe", "It’s fine.", 2, 1},
		{"windows line ends", "One.\r\n\r\nTwo", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Measure(tt.text)
			if s.Words != tt.words || s.Sentences != tt.sen {
				t.Errorf("Measure(%q) = %d words, %d sentences; want %d, %d", tt.text, s.Words, s.Sentences, tt.words, tt.sen)
			}
			if Words(tt.text) != s.Words || Sentences(tt.text) != s.Sentences {
				t.Errorf("Words/Sentences(%q) disagree with Measure", tt.text)
			}
		})
	}
}

// TestGradePassages checks five passages whose counts and grades were
// worked out by hand with 0.39·W/S + 11.8·Y/W − 15.59 (W words, S
// sentences, Y syllables).
func TestGradePassages(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		w, s, y int
		grade   float64
	}{
		{
			// The(1) cat(1) sat(1) on(1) the(1) mat(1): W=6 S=1 Y=6.
			// 0.39·6 + 11.8·1 − 15.59 = 2.34 + 11.8 − 15.59 = −1.45
			name: "very simple", text: "The cat sat on the mat.",
			w: 6, s: 1, y: 6, grade: -1.45,
		},
		{
			// "Hi" (ended by the blank line): 1 word, 1 syllable.
			// You have a new test re-sult from: 7 words, 8 syllables.
			// Sign in to see it (ended by ':' at the line end): 5, 5.
			// The actions and the address are not words.
			// W=13 S=3 Y=14: 0.39·13/3 + 11.8·14/13 − 15.59
			// = 1.69 + 12.707692 − 15.59 = −1.192308
			name: "a notification",
			text: "Hi {{.Name}},\n\nYou have a new test result from {{.Org}}. Sign in to see it:\nhttps://careloop.example/n/abc123\n",
			w:    13, s: 3, y: 14, grade: -1.192308,
		},
		{
			// A(1) crit-i-cal(3) re-sult(2) for(1) a(1) pa-tient(2) in(1)
			// your(1) care(1) has(1) not(1) been(1) ac-knowl-edged(3)
			// with-in(2) the(1) ex-pect-ed(3) time(1): 17 words, 26.
			// Please(1) re-view(2) it(1) and(1) rec-ord(2) your(1)
			// ac-knowl-edge-ment(4): 7 words, 12.
			// W=24 S=2 Y=38: 0.39·12 + 11.8·38/24 − 15.59
			// = 4.68 + 18.683333 − 15.59 = 7.773333
			name: "a message to staff",
			text: "A critical result for a patient in your care has not been acknowledged within the expected time. Please review it and record your acknowledgement.",
			w:    24, s: 2, y: 38, grade: 7.773333,
		},
		{
			// Ms(1) Lee(1) will(1) see(1) you(1) on(1) March(1) at(1)
			// in(1) room(1): 10 words, 10 ("a.m." does not end it,
			// "12." does; numbers are not words).
			// Please(1) bring(1): 2, 2. your(1) I-D(2) card(1): 3, 4.
			// a(1) list(1) of(1) your(1) med-i-cines(3): 5, 7.
			// Call(1) us(1) at(1) if(1) you(1) can-not(2) come(1): 7, 8.
			// W=27 S=5 Y=31: 0.39·27/5 + 11.8·31/27 − 15.59
			// = 2.106 + 13.548148 − 15.59 = 0.064148
			name: "abbreviations, numbers and a list",
			text: "Ms. Lee will see you on March 3 at 9:30 a.m. in room 12.\nPlease bring:\n- your ID card\n- a list of your medicines\nCall us at 555-0100 if you cannot come.",
			w:    27, s: 5, y: 31, grade: 0.064148,
		},
		{
			// No-ti-fi-ca-tions(5) are(1) de-liv-ered(3) through(1)
			// se-cure(2) chan-nels(2) and(1) pa-tients(2) may(1)
			// ad-just(2) their(1) com-mu-ni-ca-tion(5) pref-er-enc-es(4)
			// when-ev-er(3) cir-cum-stanc-es(4) change(1).
			// W=16 S=1 Y=38: 0.39·16 + 11.8·38/16 − 15.59
			// = 6.24 + 28.025 − 15.59 = 18.675
			name: "dense prose",
			text: "Notifications are delivered through secure channels, and patients may adjust their communication preferences whenever circumstances change.",
			w:    16, s: 1, y: 38, grade: 18.675,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Measure(tt.text)
			if s.Words != tt.w || s.Sentences != tt.s || s.Syllables != tt.y {
				t.Errorf("Measure = %+v, want {Words:%d Sentences:%d Syllables:%d}", s, tt.w, tt.s, tt.y)
			}
			if g := Grade(tt.text); math.Abs(g-tt.grade) > 1e-5 {
				t.Errorf("Grade = %.6f, want %.6f", g, tt.grade)
			}
		})
	}
}

func TestGradeWithoutWords(t *testing.T) {
	for _, text := range []string{"", "{{.Link}}", "https://x.example/1 42"} {
		if g := Grade(text); g != 0 {
			t.Errorf("Grade(%q) = %v, want 0", text, g)
		}
	}
}

func TestGradeOrdersTexts(t *testing.T) {
	easy := "You have a new result. Sign in to see it."
	hard := "A laboratory examination of considerable diagnostic significance has become available for your consideration."
	if e, h := Grade(easy), Grade(hard); e >= h {
		t.Errorf("Grade(easy) = %.2f, Grade(hard) = %.2f: want easy below hard", e, h)
	}
}
