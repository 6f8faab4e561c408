package templates

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck checks Check's promise: a text it accepts renders without
// error for any data, exactly as text/template would, keeps its link and
// its limits for the samples, and becomes part of a catalog; a text it
// rejects gets a *FieldError naming a field, and no catalog.
func FuzzCheck(f *testing.F) {
	index := func(list []string, v string) uint8 {
		for i, s := range list {
			if s == v {
				return uint8(i)
			}
		}
		return 0
	}
	kinds := Kinds()
	base := Default()
	for _, tm := range base.Templates() {
		k := uint8(0)
		for i, info := range kinds {
			if info.Kind == tm.Kind {
				k = uint8(i)
			}
		}
		f.Add(k, index(Channels(), tm.Channel), index(Languages(), tm.Lang), index([]string{Simple, Standard}, tm.Level), tm.Subject, tm.Body)
	}
	for _, body := range []string{"", "{{", "{{.Link}}{{range .Items}}{{.}}{{end}}", "<b>{{.Link}}</b>", "{{printf \"%d\" .Count}}{{.Link}}",
		"{{with $}}{{.Link}}{{end}}", "{{if lt (len .Items) 2}}{{.Link}}{{end}}{{.Link}}", "&amp;{{.Link}}", "{{.Link}}{{break}}"} {
		f.Add(uint8(0), uint8(1), uint8(0), uint8(0), "", body)
	}
	f.Fuzz(func(t *testing.T, kind, channel, lang, level uint8, subject, body string) {
		pick := func(list []string, i uint8) string {
			if int(i) < len(list) {
				return list[i]
			}
			return "x"
		}
		k := Kind("unknown")
		if int(kind) < len(kinds) {
			k = kinds[kind].Kind
		}
		tm := Template{Key: Key{k, pick(Channels(), channel), pick(Languages(), lang), pick([]string{Simple, Standard}, level)}, Subject: subject, Body: body}
		err := Check(tm)
		c, withErr := base.With([]Template{tm})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.Contains("kind channel lang level subject body", fe.Field) || fe.Field == "" {
				t.Fatalf("Check = %v, want a *FieldError naming a field", err)
			}
			if withErr == nil || c != nil {
				t.Fatalf("With accepted a text Check rejects (%v)", err)
			}
			return
		}
		if withErr != nil {
			t.Fatalf("With rejects a text Check accepts: %v", withErr)
		}
		for _, d := range samples(tm.Lang) {
			r, err := c.Render(tm.Key, d)
			if err != nil {
				t.Fatalf("Render(%s) of an accepted text: %v", tm.Key, err)
			}
			if r.Key != tm.Key {
				t.Fatalf("rendered %s, want the organisation's %s", r.Key, tm.Key)
			}
			if (tm.Channel == Email || tm.Channel == SMS) && !strings.Contains(r.Body, d.Link) {
				t.Fatalf("accepted %s lost its link: %q", tm.Key, r.Body)
			}
			if tm.Channel == SMS && utf8.RuneCountInString(r.Body) > MaxSMS {
				t.Fatalf("accepted SMS of %d characters", utf8.RuneCountInString(r.Body))
			}
			if strings.ContainsAny(r.Subject, "\r\n") || utf8.RuneCountInString(r.Subject) > MaxSubject {
				t.Fatalf("accepted subject %q", r.Subject)
			}
		}
		odd := Data{Name: "A\nB", Org: strings.Repeat("{{.Link}}", 20), Link: "l", Detail: "\x00", When: " ", Count: -7,
			Items: []string{"", "a", strings.Repeat("b", 500), "\r\n"}}
		for range 40 {
			odd.Items = append(odd.Items, "item")
		}
		if _, err := c.Render(tm.Key, odd); err != nil {
			t.Fatalf("Render(%s) of an accepted text with unusual data: %v", tm.Key, err)
		}
		all := samples(tm.Lang)
		ds := []Data{all[len(all)-1], all[len(all)-2], all[0], odd, {}}
		if tm.Subject != "" {
			sameAsReference(t, "subject", tm.Subject, ds)
		}
		sameAsReference(t, "body", tm.Body, ds)
	})
}
