package templates

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func fullData() Data {
	return Data{Name: "Alex", Org: "Riverside Clinic", Link: "https://clinic.example/n/abc", Prefs: "https://clinic.example/account/notifications",
		When: "Tuesday, March 3 at 9:30 AM", Count: 2, Items: []string{"New test result", "Appointment booked"}}
}

// without returns careloop's texts less the given keys.
func without(keys ...Key) *Catalog {
	c := Default()
	for _, k := range keys {
		delete(c.entries, k)
	}
	return c
}

func TestRenderFallback(t *testing.T) {
	key := func(lang, level string) Key { return Key{ResultReady, Email, lang, level} }
	staff := func(lang, level string) Key { return Key{CriticalEscalation, SMS, lang, level} }
	tests := []struct {
		name    string
		catalog *Catalog
		ask     Key
		used    Key
	}{
		{"present", Default(), key("es", Simple), key("es", Simple)},
		{"simple to standard", without(key("es", Simple)), key("es", Simple), key("es", Standard)},
		{"standard to simple", without(key("es", Standard)), key("es", Standard), key("es", Simple)},
		{"language to English", without(key("es", Simple), key("es", Standard)), key("es", Simple), key("en", Simple)},
		{"language to English, other level", without(key("es", Simple), key("es", Standard), key("en", Simple)), key("es", Simple), key("en", Standard)},
		{"unknown language to English", Default(), key("fr", Standard), key("en", Standard)},
		{"empty level is simple", Default(), key("es", ""), key("es", Simple)},
		{"empty language is English", Default(), key("", Standard), key("en", Standard)},
		{"staff kinds have standard only", Default(), staff("es", Simple), staff("es", Standard)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.catalog.Render(tt.ask, fullData())
			if err != nil {
				t.Fatal(err)
			}
			if r.Key != tt.used {
				t.Errorf("rendered %s, want %s", r.Key, tt.used)
			}
			want, err := Default().Render(tt.used, fullData())
			if err != nil {
				t.Fatal(err)
			}
			if r != want {
				t.Errorf("Render(%s) = %+v, want the text of %s: %+v", tt.ask, r, tt.used, want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		catalog *Catalog
		key     Key
		want    string
	}{
		{"unknown kind", Default(), Key{"lab-party", Email, "en", Simple}, "unknown kind"},
		{"unknown channel", Default(), Key{ResultReady, "fax", "en", Simple}, "unknown channel"},
		{"unknown level", Default(), Key{ResultReady, Email, "en", "expert"}, "unknown level"},
		{"no text at all", without(Key{ResultReady, SMS, "en", Simple}, Key{ResultReady, SMS, "en", Standard}), Key{ResultReady, SMS, "en", Simple}, "no text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.catalog.Render(tt.key, fullData())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Render(%s) error = %v, want one saying %q", tt.key, err, tt.want)
			}
		})
	}
}

func TestRenderTidies(t *testing.T) {
	c, err := Default().With([]Template{{
		Key:     Key{ResultReady, Email, "en", Simple},
		Subject: "  Hello   {{.Name}}  ",
		Body:    "\n\n{{if .Name}}Hi {{.Name}},{{end}}   \r\n\r\n\r\n\r\nSee {{.Link}}\t\n\n\n{{with .Detail}}About {{.}}{{end}}\n\n",
	}})
	if err != nil {
		t.Fatal(err)
	}
	d := fullData()
	d.Name = "Alex\r\nBcc: someone@example.org "
	r, err := c.Render(Key{ResultReady, Email, "en", Simple}, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello Alex Bcc: someone@example.org"; r.Subject != want {
		t.Errorf("subject = %q, want %q", r.Subject, want)
	}
	if want := "Hi Alex  Bcc: someone@example.org,\n\nSee https://clinic.example/n/abc\n"; r.Body != want {
		t.Errorf("body = %q, want %q", r.Body, want)
	}
}

func TestWithReplacesOnlyTheGivenKey(t *testing.T) {
	base := Default()
	own := Template{Key: Key{ResultReady, SMS, "es", Simple}, Body: "{{.Org}}: hay novedades para usted. {{.Link}}"}
	c, err := base.With([]Template{own})
	if err != nil {
		t.Fatal(err)
	}
	d := fullData()
	r, err := c.Render(own.Key, d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Riverside Clinic: hay novedades para usted. https://clinic.example/n/abc"; r.Body != want {
		t.Errorf("overridden text = %q, want %q", r.Body, want)
	}
	before, err := base.Render(own.Key, d)
	if err != nil {
		t.Fatal(err)
	}
	if before.Body == r.Body {
		t.Error("the base catalog changed")
	}
	for _, tm := range base.Templates() {
		if tm.Key == own.Key {
			continue
		}
		a, errA := base.Render(tm.Key, d)
		b, errB := c.Render(tm.Key, d)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s changed: %+v (%v) became %+v (%v)", tm.Key, a, errA, b, errB)
		}
	}
	list := c.Templates()
	if len(list) != len(base.Templates()) {
		t.Errorf("%d texts after With, want %d", len(list), len(base.Templates()))
	}
	for _, tm := range list {
		if tm.Key == own.Key && tm != own {
			t.Errorf("Templates lists %+v for the overridden key, want %+v", tm, own)
		}
	}
}

func TestWithRejects(t *testing.T) {
	good := Template{Key: Key{ResultReady, SMS, "en", Simple}, Body: "New result: {{.Link}}"}
	bad := Template{Key: Key{ResultReady, SMS, "en", Standard}, Body: "New result, no link"}
	tests := []struct {
		name  string
		list  []Template
		field string
		want  string
	}{
		{"a bad text", []Template{good, bad}, "body", "result-ready/sms/en/standard"},
		{"a key twice", []Template{good, good}, "", "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Default().With(tt.list)
			if err == nil || c != nil {
				t.Fatalf("With = %v, %v; want an error and no catalog", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			var fe *FieldError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
				t.Errorf("error %v does not name the field %q", err, tt.field)
			}
		})
	}
}

func TestTemplatesOrder(t *testing.T) {
	list := Default().Templates()
	if first := list[0].Key; first != (Key{ResultReady, Email, "en", Simple}) {
		t.Errorf("first text is %s", first)
	}
	if last := list[len(list)-1].Key; last != (Key{ProviderTest, InApp, "es", Standard}) {
		t.Errorf("last text is %s", last)
	}
	rank := map[Kind]int{}
	for i, info := range Kinds() {
		rank[info.Kind] = i
	}
	for i := 1; i < len(list); i++ {
		a, b := list[i-1].Key, list[i].Key
		if rank[a.Kind] > rank[b.Kind] || a == b {
			t.Fatalf("%s before %s", a, b)
		}
	}
}

func TestKinds(t *testing.T) {
	seen := map[Kind]bool{}
	for _, info := range Kinds() {
		if seen[info.Kind] {
			t.Errorf("%s twice", info.Kind)
		}
		seen[info.Kind] = true
		got, ok := Lookup(info.Kind)
		if !ok || got != info {
			t.Errorf("Lookup(%s) = %+v, %v", info.Kind, got, ok)
		}
		if info.Description == "" || (info.Audience != Patient && info.Audience != Staff) {
			t.Errorf("%s: incomplete %+v", info.Kind, info)
		}
		if info.Urgent && info.Audience != Staff {
			t.Errorf("%s: only staff messages are urgent", info.Kind)
		}
	}
	if len(seen) != 13 {
		t.Errorf("%d kinds, want 13", len(seen))
	}
	if _, ok := Lookup("nothing"); ok {
		t.Error("Lookup of an unknown kind succeeded")
	}
	if info, _ := Lookup(CriticalEscalation); !info.Urgent || info.Category != CareTeam {
		t.Errorf("critical escalation = %+v, want urgent care-team", info)
	}
}

func TestParseFile(t *testing.T) {
	tests := []struct {
		name, file, src string
		want            Template
		err             string
	}{
		{"email", "result-ready.email.en.simple.tmpl", "Subject: Hi\n\nBody {{.Link}}\n",
			Template{Key: Key{ResultReady, Email, "en", Simple}, Subject: "Hi", Body: "Body {{.Link}}"}, ""},
		{"sms", "digest.sms.es.standard.tmpl", "Hola {{.Link}}\r\n",
			Template{Key: Key{Digest, SMS, "es", Standard}, Body: "Hola {{.Link}}"}, ""},
		{"bad name", "result-ready.email.tmpl", "Subject: Hi\n\nBody", Template{}, "want a name"},
		{"no subject", "result-ready.inapp.en.simple.tmpl", "Hi\n\nBody", Template{}, "first line"},
		{"no blank line", "result-ready.email.en.simple.tmpl", "Subject: Hi\nBody", Template{}, "blank line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFile(tt.file, tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseFile = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestConcurrentRender renders from one catalog on many goroutines (run
// with -race to check that it is safe).
func TestConcurrentRender(t *testing.T) {
	c := Default()
	keys := c.Templates()
	want := make([]Rendered, len(keys))
	for i, tm := range keys {
		r, err := c.Render(tm.Key, fullData())
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range keys {
				j := (i + g*17) % len(keys)
				r, err := c.Render(keys[j].Key, fullData())
				if err != nil || r.Body != want[j].Body || r.Subject != want[j].Subject {
					t.Errorf("%s on goroutine %d: %+v, %v", keys[j].Key, g, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
