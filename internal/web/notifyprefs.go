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

// categoryNames are the categories people choose channels for, in the
// words of the page: patients' three, and the care team's one.
var categoryNames = map[string]struct{ legend, hint string }{
	"results":      {"Test results", "When a new result is ready for you."},
	"appointments": {"Appointments", "Confirmations, changes and reminders of your visits."},
	"reminders":    {"Reminders", "When a result waits for you to open it, or a follow-up waits to be booked."},
	"care-team":    {"Messages about your patients", "Results that need you, such as a critical result waiting for acknowledgement."},
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

// prefsFieldNames name the preferences' fields in the words of the page,
// before the service's message about them.
var prefsFieldNames = map[string]string{
	"quiet_start": "Start of quiet hours", "quiet_end": "End of quiet hours", "time_zone": "Time zone",
	"lang": "Language", "level": "Reading level", "daily_cap": "Most messages a day", "opt_out": "Opt-out",
}

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
	v := notifyPrefsPage{Staff: staff}
	if recipient == "" {
		v.Nothing = "Messages about the people you care for go to them, as they chose; you read them in your messages. There is nothing to choose here for your account."
		if u.Account.Role == identity.RolePatient {
			v.Nothing = "Your account is not linked to your health record yet. Once it is, you choose here how and when we contact you."
		}
		p.r.Page(w, r, status, "notify-prefs", p.messagesData(w, r, "How we contact you", v))
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
		name := categoryNames[cat]
		id := "channels-" + cat
		v.Categories = append(v.Categories, categoryFields{Legend: name.legend, Hint: name.hint,
			First: formField{ID: id + "-first", Name: id + "-first", Label: "First choice",
				Options: options(first, notify.Email, "Email", notify.SMS, "Text message", "", "None")}.withError(e),
			Fallback: formField{ID: id + "-fallback", Name: id + "-fallback", Label: "If that does not work",
				Options: options(fallback, notify.Email, "Email", notify.SMS, "Text message", "", "None")}.withError(e)})
	}
	v.QuietStart = formField{ID: "quiet_start", Name: "quiet_start", Label: "From", Type: "time", Value: quietStart,
		Hint: "For example 21:00."}.withError(e)
	v.QuietEnd = formField{ID: "quiet_end", Name: "quiet_end", Label: "Until", Type: "time", Value: quietEnd,
		Hint: "For example 08:00. The same time twice means no quiet hours."}.withError(e)
	zones := slices.Clone(timeZones)
	if prefs.TimeZone != "" && !slices.Contains(zones, prefs.TimeZone) {
		zones = append([]string{prefs.TimeZone}, zones...)
	}
	tz := formField{ID: "time_zone", Name: "time_zone", Label: "Time zone", Hint: "Quiet hours and the daily count follow it.",
		Options: []option{{Value: "", Label: "Your clinic's time zone", Selected: prefs.TimeZone == ""}}}
	for _, z := range zones {
		tz.Options = append(tz.Options, option{Value: z, Label: strings.ReplaceAll(z, "_", " "), Selected: z == prefs.TimeZone})
	}
	v.TimeZone = tz.withError(e)
	v.Lang = formField{ID: "lang", Name: "lang", Label: "Language of messages",
		Options: []option{{Value: "", Label: "As on my clinic record", Selected: prefs.Lang == ""},
			{Value: "en", Label: "English", Selected: prefs.Lang == "en"},
			{Value: "es", Label: "Español", Lang: "es", Selected: prefs.Lang == "es"}}}.withError(e)
	v.Level = formField{ID: "level", Name: "level", Label: "Reading level",
		Options: options(cmp.Or(prefs.Level, d.Level), "simple", "Simple words (recommended)", "standard", "Standard")}.withError(e)
	v.DailyCap = formField{ID: "daily_cap", Name: "daily_cap", Label: "Most email and text messages a day", Type: "number",
		Value: dailyCap, Min: "1", Max: strconv.Itoa(notify.MaxDailyCap),
		Hint: "Beyond it, the rest come together in one message the next morning. From 1 to " + strconv.Itoa(notify.MaxDailyCap) + "."}.withError(e)
	if staff {
		v.DailyCap.Hint = "Messages about critical results are never held. " + v.DailyCap.Hint
	}
	v.Details = formField{ID: "details", Name: "details", Label: "Include the name of the test in messages", Checked: prefs.Details,
		Hint: "This is health information. Anyone who sees your phone's lock screen or your email could read it. When it is off, messages only say that something is ready."}.withError(e)
	v.OptOutEmail = formField{ID: "opt_out_email", Name: "opt_out_email", Label: "Send me no email at all",
		Checked: slices.Contains(prefs.OptOut, notify.Email)}.withError(e)
	v.OptOutSMS = formField{ID: "opt_out_sms", Name: "opt_out_sms", Label: "Send me no text messages at all",
		Checked: slices.Contains(prefs.OptOut, notify.SMS)}.withError(e)
	data := p.messagesData(w, r, "How we contact you", v)
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
		p.r.Error(w, r, http.StatusForbidden, "Your account gets no messages of its own, so it has no choices to save.")
		return
	}
	prefs, e := prefsFromForm(r, categoriesFor(isStaff(u.Account.Role)))
	if !e.Any() {
		if err := prefs.Check(); err != nil {
			e = prefsError(err, prefs)
		}
	}
	if e.Any() {
		p.showNotifyPrefs(w, r, http.StatusBadRequest, u, who, prefs, e)
		return
	}
	if err := p.Notify.SetPreferences(r.Context(), pr.OrgID, who, prefs, pr.Subject); err != nil {
		if errs.CodeOf(err) == errs.Invalid {
			p.showNotifyPrefs(w, r, http.StatusBadRequest, u, who, prefs, prefsError(err, prefs))
			return
		}
		p.fail(w, r, err)
		return
	}
	pweb.SetFlash(w, "success", "Your choices are saved. New messages follow them.")
	seeOther(w, r, "/account/notifications")
}

// prefsFromForm reads the preferences form. Problems the service cannot
// name (a daily limit that is not a number, no channel at all) come back
// as form errors.
func prefsFromForm(r *http.Request, categories []string) (notify.Preferences, *pweb.FormErrors) {
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
			e.Add(id+"-first", categoryNames[cat].legend+": choose email or text message. To get neither, choose \"Send me no email at all\" and \"Send me no text messages at all\" below: your messages still wait in your careloop inbox.")
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
			e.Add("daily_cap", "Most messages a day: enter a number, for example 5.")
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
// names, in its words after the field's name on the page.
func prefsError(err error, prefs notify.Preferences) *pweb.FormErrors {
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
		msg = categoryNames[cat].legend + ": " + msg
	case field == "opt_out":
		field = "opt_out_email"
		msg = prefsFieldNames["opt_out"] + ": " + msg
	case prefsFieldNames[field] != "":
		msg = prefsFieldNames[field] + ": " + msg
	case field == "channels":
		field = ""
	}
	e := &pweb.FormErrors{}
	e.Add(field, msg)
	return e
}
