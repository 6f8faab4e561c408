package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// providerKindForm describes the form of one kind of provider: the
// settings it takes (each an input) and what its secret is called.
type providerKindForm struct {
	channel, kind, label, intro string
	settings                    []providerSetting
	secretLabel, secretHint     string
}

// providerSetting is one setting of a kind of provider.
type providerSetting struct {
	name, label, hint, typ string
}

// providerForms are the kinds of providers the page sets up, by channel.
// The log kinds of demos are careloop's defaults, not chosen here.
var providerForms = []providerKindForm{
	{channel: notify.Email, kind: "smtp", label: "An SMTP server", intro: "Email goes through your organisation's mail server.",
		settings: []providerSetting{
			{"url", "Server address", "For example smtp://careloop@mail.clinic.example:587. Put the password below, not here.", "url"},
			{"from", "Sender", "For example Riverside Clinic <no-reply@clinic.example>.", "text"},
		},
		secretLabel: "Password", secretHint: "The mail server's password for that user, if it needs one."},
	{channel: notify.SMS, kind: "twilio", label: "Twilio", intro: "Text messages go through your Twilio account.",
		settings: []providerSetting{
			{"account_sid", "Account SID", "It starts with AC.", "text"},
			{"from", "Sending number", "In international form, for example +15551234567; or give a messaging service instead.", "text"},
			{"messaging_service_sid", "Messaging service SID (optional)", "It starts with MG.", "text"},
			{"base_url", "API address (optional)", "Only for a regional or test endpoint.", "url"},
		},
		secretLabel: "Auth token", secretHint: "From your Twilio console. It also checks the delivery reports Twilio sends back."},
	{channel: notify.SMS, kind: "webhook", label: "A signed webhook", intro: "careloop posts each text message, signed, to your gateway.",
		settings: []providerSetting{
			{"url", "Gateway address", "For example https://sms.clinic.example/send.", "url"},
			{"from", "Sending number (optional)", "In international form, for example +15551234567.", "text"},
		},
		secretLabel: "Signing secret", secretHint: "Shared with your gateway, which checks each request's signature with it."},
}

// providersPage is the data of /staff/notify/providers.
type providersPage struct {
	Channels []providerChannel
}

// providerChannel is one channel's provider, the forms that change it and
// the test form.
type providerChannel struct {
	Channel, Label, Kind string
	// Default: careloop's server-wide setting applies, not the
	// organisation's own.
	Default, SecretSet bool
	Settings           []fact
	Updated            string
	Forms              []providerForm
	TestTo, TestLang   formField
	// Answer is the provider's answer to a test message just sent.
	Answer string
}

// providerForm is the form that sets one kind of provider.
type providerForm struct {
	Kind, Label, Intro string
	// Current: the provider in force is of this kind. Open: the form is
	// shown unfolded (the current one, or the one just posted).
	Current, Open bool
	Fields        []formField
}

// providerInput is what a form posted, shown again with its errors. The
// secret is never shown again.
type providerInput struct {
	channel, kind string
	settings      map[string]string
	// testTo and testLang are the test form's.
	testTo, testLang, answer string
}

func (p *Pages) notifyProviders(w http.ResponseWriter, r *http.Request, u *who) {
	p.showProviders(w, r, http.StatusOK, providerInput{}, nil)
}

// showProviders renders the page: each channel's provider as stored
// (secrets as "set" or not) and its forms, the form posted in in filled
// with what was typed and its errors in e.
func (p *Pages) showProviders(w http.ResponseWriter, r *http.Request, status int, in providerInput, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	list, err := p.NotifyProviders.Get(r.Context(), pr.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	people := accountNames{p: p, orgID: pr.OrgID}
	v := providersPage{}
	for _, ps := range list {
		c := providerChannel{Channel: ps.Channel, Label: channelWords(ps.Channel), Kind: providerKindWords(ps.Kind), Default: ps.Default, SecretSet: ps.SecretSet}
		for _, f := range providerForms {
			if f.channel == ps.Channel && f.kind == ps.Kind {
				for _, s := range f.settings {
					if val := ps.Settings[s.name]; val != "" {
						c.Settings = append(c.Settings, fact{Label: s.label, Value: val})
					}
				}
			}
		}
		if !ps.UpdatedAt.IsZero() {
			by, err := actorName(r.Context(), &people, ps.UpdatedBy)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			c.Updated = showTime(ps.UpdatedAt) + " by " + by
		}
		for _, f := range providerForms {
			if f.channel != ps.Channel {
				continue
			}
			form := providerForm{Kind: f.kind, Label: f.label, Intro: f.intro, Current: !ps.Default && ps.Kind == f.kind}
			values := map[string]string{}
			switch {
			case in.channel == f.channel && in.kind == f.kind:
				values, form.Open = in.settings, true
			case form.Current:
				values, form.Open = ps.Settings, in.kind == ""
			}
			for _, s := range f.settings {
				form.Fields = append(form.Fields, formField{ID: f.kind + "-" + s.name, Name: f.kind + "-" + s.name, Label: s.label,
					Hint: s.hint, Type: s.typ, Value: values[s.name], Autocomplete: "off"}.withError(e))
			}
			secret := formField{ID: f.kind + "-secret", Name: f.kind + "-secret", Label: f.secretLabel, Type: "password",
				Autocomplete: "new-password", Hint: f.secretHint + " Not set."}
			if form.Current && ps.SecretSet {
				secret.Hint = f.secretHint + " Set: it is never shown again; leave this empty to keep it, or type a new one."
			}
			form.Fields = append(form.Fields, secret.withError(e))
			c.Forms = append(c.Forms, form)
		}
		lang := "en"
		to := ""
		if in.channel == ps.Channel {
			to, lang, c.Answer = in.testTo, in.testLang, in.answer
		}
		toLabel, toType := "Email address", "email"
		if ps.Channel == notify.SMS {
			toLabel, toType = "Mobile number", "tel"
		}
		c.TestTo = formField{ID: "test-" + ps.Channel + "-to", Name: "to", Label: toLabel, Type: toType, Value: to, Autocomplete: "off"}.withError(e)
		c.TestLang = formField{ID: "test-" + ps.Channel + "-lang", Name: "lang", Label: "Language",
			Options: []option{{Value: "en", Label: "English", Selected: lang != "es"}, {Value: "es", Label: "Español", Lang: "es", Selected: lang == "es"}}}.withError(e)
		v.Channels = append(v.Channels, c)
	}
	data := p.staffMessagesData(w, r, "Email and text message providers", v)
	data.Errors = e
	p.r.Page(w, r, status, "notify-providers", data)
}

// providerKindWords names a kind of provider.
func providerKindWords(kind string) string {
	switch kind {
	case "smtp":
		return "SMTP server"
	case "twilio":
		return "Twilio"
	case "webhook":
		return "Signed webhook"
	case "log", "log-sms":
		return "careloop's log (messages are written to the log, not sent)"
	case "none":
		return "None: this channel is not available"
	}
	return kind
}

// setProvider stores the organisation's provider of a channel from the
// form of its kind. The service tries the settings before storing them;
// what it refuses is shown on the field it names, and nothing changes.
func (p *Pages) setProvider(w http.ResponseWriter, r *http.Request, u *who) {
	channel, kind := r.PathValue("channel"), r.PostFormValue("kind")
	var form *providerKindForm
	for i := range providerForms {
		if providerForms[i].channel == channel && providerForms[i].kind == kind {
			form = &providerForms[i]
		}
	}
	if form == nil {
		p.fail(w, r, errs.NotFoundf("There is no %s provider of kind %q.", channel, kind))
		return
	}
	in := providerInput{channel: channel, kind: kind, settings: map[string]string{}}
	ps := notify.ProviderSettings{Channel: channel, Kind: kind, Settings: map[string]string{}, Secret: r.PostFormValue(kind + "-secret")}
	for _, s := range form.settings {
		if v := strings.TrimSpace(r.PostFormValue(kind + "-" + s.name)); v != "" {
			ps.Settings[s.name], in.settings[s.name] = v, v
		}
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	if err := p.NotifyProviders.Set(r.Context(), pr.OrgID, ps, pr.Subject, time.Now()); err != nil {
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.Unavailable {
			p.fail(w, r, err)
			return
		}
		field := errs.FieldOf(err)
		switch name, isSetting := strings.CutPrefix(field, "settings."); {
		case isSetting:
			field = kind + "-" + name
		case field == "secret":
			field = kind + "-secret"
		default:
			field = ""
		}
		e := &pweb.FormErrors{}
		e.Add(field, errs.MessageOf(err))
		p.showProviders(w, r, statusOf(err), in, e)
		return
	}
	pweb.SetFlash(w, "success", "The "+strings.ToLower(channelWords(channel))+" provider is saved. Send a test message to check it.")
	seeOther(w, r, "/staff/notify/providers")
}

// removeProvider drops the organisation's own provider of a channel:
// careloop's default applies again.
func (p *Pages) removeProvider(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	channel := r.PathValue("channel")
	err := p.NotifyProviders.Remove(r.Context(), pr.OrgID, channel)
	switch {
	case errs.CodeOf(err) == errs.NotFound:
		pweb.SetFlash(w, "info", "careloop's default was in use already.")
	case err != nil:
		p.fail(w, r, err)
		return
	default:
		pweb.SetFlash(w, "success", "careloop's default "+strings.ToLower(channelWords(channel))+" provider applies again.")
	}
	seeOther(w, r, "/staff/notify/providers")
}

// testProvider sends the test message through the channel's provider now
// and shows what the provider answered: its reference for the message,
// or why it refused.
func (p *Pages) testProvider(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	channel := r.PathValue("channel")
	if channel != notify.Email && channel != notify.SMS {
		p.fail(w, r, errs.NotFoundf("There is no channel %q with providers.", channel))
		return
	}
	in := providerInput{channel: channel, testTo: strings.TrimSpace(r.PostFormValue("to")), testLang: r.PostFormValue("lang")}
	if in.testLang != "es" {
		in.testLang = "en"
	}
	if in.testTo == "" {
		e := &pweb.FormErrors{}
		e.Add("test-"+channel+"-to", "Enter where to send the test message.")
		p.showProviders(w, r, http.StatusBadRequest, in, e)
		return
	}
	ref, err := p.Notify.SendTest(r.Context(), pr.OrgID, channel, in.testTo, in.testLang)
	if err != nil {
		if c := errs.CodeOf(err); c == errs.Internal {
			p.fail(w, r, err)
			return
		}
		e := &pweb.FormErrors{}
		e.Add("test-"+channel+"-to", errs.MessageOf(err))
		p.showProviders(w, r, statusOf(err), in, e)
		return
	}
	in.answer = "The provider accepted the test message."
	if ref != "" {
		in.answer += " Its reference: " + ref + "."
	}
	p.showProviders(w, r, http.StatusOK, in, nil)
}
