package web

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// notifyPrefsPage is the data of /account/notifications: how and when the
// person wants to be told things.
type notifyPrefsPage struct {
	// Nothing is set when the person has no messages of their own (a
	// caregiver, a patient whose record is not linked yet): why.
	Nothing string
	Staff   bool
	// Categories are the channel choices, one fieldset per category.
	Categories                                            []categoryFields
	QuietStart, QuietEnd, TimeZone, Lang, Level, DailyCap formField
	Details, OptOutEmail, OptOutSMS                       formField
}

// categoryFields are the first choice and the fallback of one category.
type categoryFields struct {
	Legend, Hint    string
	First, Fallback formField
}

// categoryName and categoryHint say a category people choose channels
// for (patients' three, and the care team's one) in l: the messages
// prefs.category.<category> and its ".hint".
func categoryName(l *i18n.Localizer, cat string) string { return l.T("prefs.category." + cat) }

func categoryHint(l *i18n.Localizer, cat string) string {
	return l.T("prefs.category." + cat + ".hint")
}

// categoriesFor are the categories a person gets messages of.
func categoriesFor(staff bool) []string {
	if staff {
		return []string{"care-team"}
	}
	return []string{"results", "appointments", "reminders"}
}

// timeZones are the zones the page offers first; the person's current
// one is added when it is another.
var timeZones = []string{
	"UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
	"America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Toronto", "America/Vancouver",
	"America/Mexico_City", "America/Guatemala", "America/Bogota", "America/Lima", "America/Caracas", "America/Santiago",
	"America/Argentina/Buenos_Aires", "America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
	"Europe/Madrid", "Europe/Paris", "Europe/Berlin", "Europe/Rome", "Europe/Warsaw", "Europe/Athens", "Europe/Istanbul",
	"Africa/Lagos", "Africa/Cairo", "Africa/Nairobi", "Africa/Johannesburg", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata",
	"Asia/Dhaka", "Asia/Bangkok", "Asia/Manila", "Asia/Shanghai", "Asia/Seoul", "Asia/Tokyo", "Australia/Perth",
	"Australia/Sydney", "Pacific/Auckland",
}

// prefsFields are the preferences' fields the service names in its
// messages; the page names each (the message prefs.field.<field>) before
// the service's words.
var prefsFields = []string{"quiet_start", "quiet_end", "time_zone", "lang", "level", "daily_cap", "opt_out"}

// ownRecipient is whose preferences the person sets: a patient's own
// record, a staff member's account. A caregiver and a patient whose
// account has no record set none: the messages they read are addressed
// to the patients' records, whose preferences are the patients' own.
func (p *Pages) ownRecipient(pr *fhir.Principal, u *who) string {
	if self := p.Access.OwnPatient(pr); self != "" {
		return "Patient/" + self
	}
	if isStaff(u.Account.Role) {
		return "account:" + u.Account.ID
	}
	return ""
}

func (p *Pages) notifyPrefs(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	who := p.ownRecipient(pr, u)
	var prefs notify.Preferences
	if who != "" {
		var err error
		if prefs, err = p.Notify.Preferences(r.Context(), pr.OrgID, who); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.showNotifyPrefs(w, r, http.StatusOK, u, who, prefs, nil)
}

// showNotifyPrefs renders the form of recipient's preferences with prefs
// (what the person set, or sent with errors): careloop's defaults fill
// what they left unset. Without a recipient it says why there is nothing
// to choose.
func (p *Pages) showNotifyPrefs(w http.ResponseWriter, r *http.Request, status int, u *who, recipient string, prefs notify.Preferences, e *pweb.FormErrors) {
	staff := isStaff(u.Account.Role)
	l := u.l
	v := notifyPrefsPage{Staff: staff}
	if recipient == "" {
		v.Nothing = l.T("prefs.nothing.caregiver")
		if u.Account.Role == identity.RolePatient {
			v.Nothing = l.T("prefs.nothing.unlinked")
		}
		p.r.Page(w, r, status, "notify-prefs", p.inboxData(w, r, u, l.T("prefs.title"), v))
		return
	}
	d := notify.Defaults()
	quietStart, quietEnd := prefs.QuietStart, prefs.QuietEnd
	if quietStart == "" && quietEnd == "" {
		quietStart, quietEnd = d.QuietStart, d.QuietEnd
	}
	dailyCap := strconv.Itoa(cmp.Or(prefs.DailyCap, d.DailyCap))
	if r.Method == http.MethodPost {
		dailyCap = strings.TrimSpace(r.PostFormValue("daily_cap")) // shown again as typed
	}
	for _, cat := range categoriesFor(staff) {
		chans := prefs.Channels[cat]
		if _, set := prefs.Channels[cat]; !set {
			chans = []string{notify.Email, notify.SMS}
		}
		first, fallback := "", ""
		if len(chans) > 0 {
			first = chans[0]
		}
		if len(chans) > 1 {
			fallback = chans[1]
		}
		id := "channels-" + cat
		email, sms, none := l.T("prefs.channel.email"), l.T("prefs.channel.sms"), l.T("prefs.channel.none")
		v.Categories = append(v.Categories, categoryFields{Legend: categoryName(l, cat), Hint: categoryHint(l, cat),
			First: formField{ID: id + "-first", Name: id + "-first", Label: l.T("prefs.first"),
				Options: options(first, notify.Email, email, notify.SMS, sms, "", none)}.withError(e),
			Fallback: formField{ID: id + "-fallback", Name: id + "-fallback", Label: l.T("prefs.fallback"),
				Options: options(fallback, notify.Email, email, notify.SMS, sms, "", none)}.withError(e)})
	}
	v.QuietStart = formField{ID: "quiet_start", Name: "quiet_start", Label: l.T("prefs.quiet.from"), Type: "time", Value: quietStart,
		Hint: l.T("prefs.quiet.from.hint")}.withError(e)
	v.QuietEnd = formField{ID: "quiet_end", Name: "quiet_end", Label: l.T("prefs.quiet.until"), Type: "time", Value: quietEnd,
		Hint: l.T("prefs.quiet.until.hint")}.withError(e)
	zones := slices.Clone(timeZones)
	if prefs.TimeZone != "" && !slices.Contains(zones, prefs.TimeZone) {
		zones = append([]string{prefs.TimeZone}, zones...)
	}
	tz := formField{ID: "time_zone", Name: "time_zone", Label: l.T("prefs.zone"), Hint: l.T("prefs.zone.hint"),
		Options: []option{{Value: "", Label: l.T("prefs.zone.clinic"), Selected: prefs.TimeZone == ""}}}
	for _, z := range zones {
		tz.Options = append(tz.Options, option{Value: z, Label: strings.ReplaceAll(z, "_", " "), Selected: z == prefs.TimeZone})
	}
	v.TimeZone = tz.withError(e)
	// Each language is named in itself, as the switcher does.
	v.Lang = formField{ID: "lang", Name: "lang", Label: l.T("prefs.lang"),
		Options: []option{{Value: "", Label: l.T("prefs.lang.record"), Selected: prefs.Lang == ""}}}
	for _, lang := range p.cat.Languages() {
		o := option{Value: lang.Tag, Label: lang.Name, Selected: prefs.Lang == lang.Tag}
		if lang.Tag != l.Tag {
			o.Lang = lang.Tag
		}
		v.Lang.Options = append(v.Lang.Options, o)
	}
	v.Lang = v.Lang.withError(e)
	v.Level = formField{ID: "level", Name: "level", Label: l.T("prefs.level"),
		Options: options(cmp.Or(prefs.Level, d.Level), "simple", l.T("prefs.level.simple"), "standard", l.T("prefs.level.standard"))}.withError(e)
	v.DailyCap = formField{ID: "daily_cap", Name: "daily_cap", Label: l.T("prefs.cap"), Type: "number",
		Value: dailyCap, Min: "1", Max: strconv.Itoa(notify.MaxDailyCap),
		Hint: l.T("prefs.cap.hint", "Max", notify.MaxDailyCap)}.withError(e)
	if staff {
		v.DailyCap.Hint = "Messages about critical results are never held. " + v.DailyCap.Hint
	}
	v.Details = formField{ID: "details", Name: "details", Label: l.T("prefs.details"), Checked: prefs.Details,
		Hint: l.T("prefs.details.hint")}.withError(e)
	v.OptOutEmail = formField{ID: "opt_out_email", Name: "opt_out_email", Label: l.T("prefs.optout.email"),
		Checked: slices.Contains(prefs.OptOut, notify.Email)}.withError(e)
	v.OptOutSMS = formField{ID: "opt_out_sms", Name: "opt_out_sms", Label: l.T("prefs.optout.sms"),
		Checked: slices.Contains(prefs.OptOut, notify.SMS)}.withError(e)
	data := p.inboxData(w, r, u, l.T("prefs.title"), v)
	data.Errors = e
	p.r.Page(w, r, status, "notify-prefs", data)
}

// setNotifyPrefs saves the person's choices. Bad input is shown on its
// field (the service's words, named by the field) and changes nothing.
func (p *Pages) setNotifyPrefs(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	who := p.ownRecipient(pr, u)
	if who == "" {
		p.errorPage(w, r, http.StatusForbidden, u.l.T("prefs.nothing.save"))
		return
	}
	prefs, e := prefsFromForm(u.l, r, categoriesFor(isStaff(u.Account.Role)))
	if !e.Any() {
		if err := prefs.Check(); err != nil {
			e = prefsError(u.l, err, prefs)
		}
	}
	if e.Any() {
		p.showNotifyPrefs(w, r, http.StatusBadRequest, u, who, prefs, e)
		return
	}
	if err := p.Notify.SetPreferences(r.Context(), pr.OrgID, who, prefs, pr.Subject); err != nil {
		if errs.CodeOf(err) == errs.Invalid {
			p.showNotifyPrefs(w, r, http.StatusBadRequest, u, who, prefs, prefsError(u.l, err, prefs))
			return
		}
		p.fail(w, r, err)
		return
	}
	pweb.SetFlash(w, "success", u.l.T("prefs.flash.saved"))
	seeOther(w, r, "/account/notifications")
}

// prefsFromForm reads the preferences form. Problems the service cannot
// name (a daily limit that is not a number, no channel at all) come back
// as form errors, in l.
func prefsFromForm(l *i18n.Localizer, r *http.Request, categories []string) (notify.Preferences, *pweb.FormErrors) {
	e := &pweb.FormErrors{}
	var prefs notify.Preferences
	prefs.Channels = map[string][]string{}
	for _, cat := range categories {
		id := "channels-" + cat
		first, fallback := r.PostFormValue(id+"-first"), r.PostFormValue(id+"-fallback")
		var chans []string
		for _, c := range []string{first, fallback} {
			if c != "" {
				chans = append(chans, c)
			}
		}
		if len(chans) == 0 {
			e.Add(id+"-first", l.T("prefs.channel.empty", "Category", categoryName(l, cat), "NoEmail", l.T("prefs.optout.email"), "NoSMS", l.T("prefs.optout.sms")))
		}
		prefs.Channels[cat] = chans
	}
	prefs.QuietStart, prefs.QuietEnd = clockValue(r.PostFormValue("quiet_start")), clockValue(r.PostFormValue("quiet_end"))
	prefs.TimeZone = strings.TrimSpace(r.PostFormValue("time_zone"))
	prefs.Lang = r.PostFormValue("lang")
	prefs.Level = r.PostFormValue("level")
	if raw := strings.TrimSpace(r.PostFormValue("daily_cap")); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil {
			e.Add("daily_cap", l.T("prefs.cap.invalid"))
		}
		prefs.DailyCap = n
	}
	prefs.Details = r.PostFormValue("details") != ""
	if r.PostFormValue("opt_out_email") != "" {
		prefs.OptOut = append(prefs.OptOut, notify.Email)
	}
	if r.PostFormValue("opt_out_sms") != "" {
		prefs.OptOut = append(prefs.OptOut, notify.SMS)
	}
	return prefs, e
}

// clockValue is a time input's value as the service reads it: browsers
// may add seconds (":00"), which say nothing more.
func clockValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) == len("21:00:00") && strings.HasSuffix(v, ":00") {
		return v[:len("21:00")]
	}
	return v
}

// prefsError puts the service's objection to preferences on the field it
// names, in its words after the field's name on the page (in l).
func prefsError(l *i18n.Localizer, err error, prefs notify.Preferences) *pweb.FormErrors {
	safe := errs.Safe(err)
	msg := safe.Message
	field := safe.Field
	if field != "" {
		// The service says "Preferences: field: what is wrong."
		msg = strings.TrimPrefix(msg, "Preferences: "+field+": ")
	}
	switch cat, isCat := strings.CutPrefix(field, "channels."); {
	case isCat:
		chans := prefs.Channels[cat]
		field = "channels-" + cat + "-first"
		if len(chans) == 2 && chans[0] == chans[1] {
			field = "channels-" + cat + "-fallback"
		}
		msg = categoryName(l, cat) + ": " + msg
	case field == "opt_out":
		field = "opt_out_email"
		msg = l.T("prefs.field.opt_out") + ": " + msg
	case slices.Contains(prefsFields, field):
		msg = l.T("prefs.field."+field) + ": " + msg
	case field == "channels":
		field = ""
	}
	e := &pweb.FormErrors{}
	e.Add(field, msg)
	return e
}
