package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// Preferences are a person's choices about messages. The zero value means
// careloop's defaults (see Defaults).
type Preferences struct {
	// Channels gives, per category ("results", "appointments", "reminders",
	// "care-team"), the channels to use in order: the first that works,
	// the others as fallbacks. The in-app inbox always receives a copy.
	Channels map[string][]string `json:"channels,omitempty"`
	// QuietStart and QuietEnd ("21:00", "08:00") bound the hours, in the
	// person's time zone, when nothing is sent but urgent messages to the
	// care team; equal values mean no quiet hours.
	QuietStart string `json:"quiet_start,omitempty"`
	QuietEnd   string `json:"quiet_end,omitempty"`
	TimeZone   string `json:"time_zone,omitempty"` // IANA; empty: the contact's
	Lang       string `json:"lang,omitempty"`      // "en" or "es"; empty: the contact's
	Level      string `json:"level,omitempty"`     // "simple" or "standard"
	// DailyCap bounds the email and SMS messages per day; beyond it they
	// wait for one digest the next morning. 0: the default.
	DailyCap int `json:"daily_cap,omitempty"`
	// Details: messages may name the test or the appointment (health
	// information). Off unless the patient turns it on.
	Details bool `json:"details,omitempty"`
	// OptOut lists channels the person wants nothing on at all.
	OptOut []string `json:"opt_out,omitempty"`
}

// The defaults for a person without preferences.
const (
	DefaultQuietStart = "21:00"
	DefaultQuietEnd   = "08:00"
	DefaultDailyCap   = 5
	MaxDailyCap       = 50
)

// Categories of messages, each with its own channels.
var Categories = []string{"results", "appointments", "reminders", "care-team"}

// externalChannels are the channels people choose among.
var externalChannels = []string{Email, SMS}

// Defaults returns the preferences in force for someone who set none.
func Defaults() Preferences {
	return Preferences{QuietStart: DefaultQuietStart, QuietEnd: DefaultQuietEnd, DailyCap: DefaultDailyCap, Level: "simple"}
}

// withDefaults fills what p leaves unset.
func (p Preferences) withDefaults() Preferences {
	d := Defaults()
	if p.QuietStart == "" && p.QuietEnd == "" {
		p.QuietStart, p.QuietEnd = d.QuietStart, d.QuietEnd
	}
	if p.DailyCap == 0 {
		p.DailyCap = d.DailyCap
	}
	if p.Level == "" {
		p.Level = d.Level
	}
	return p
}

// Check reports what is wrong with p, naming the field, in an errs.Invalid.
func (p Preferences) Check() error {
	bad := func(field, format string, args ...any) error {
		return errs.Invalidf(field, "Preferences: %s: %s.", field, fmt.Sprintf(format, args...))
	}
	for cat, chans := range p.Channels {
		if !slices.Contains(Categories, cat) {
			return bad("channels", "unknown category %q (one of %s)", cat, strings.Join(Categories, ", "))
		}
		for i, c := range chans {
			if !slices.Contains(externalChannels, c) {
				return bad("channels."+cat, "unknown channel %q (email or sms)", c)
			}
			if slices.Index(chans, c) != i {
				return bad("channels."+cat, "%q is listed twice", c)
			}
		}
	}
	if (p.QuietStart == "") != (p.QuietEnd == "") {
		return bad("quiet_start", "give both the start and the end of quiet hours, or neither")
	}
	for field, v := range map[string]string{"quiet_start": p.QuietStart, "quiet_end": p.QuietEnd} {
		if v == "" {
			continue
		}
		if _, err := clockMinutes(v); err != nil {
			return bad(field, "%v", err)
		}
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "Local" {
			return bad("time_zone", "%q is not a time zone name such as America/New_York", p.TimeZone)
		}
	}
	if p.Lang != "" && !slices.Contains(Languages, p.Lang) {
		return bad("lang", "%q is not offered (one of %s)", p.Lang, strings.Join(Languages, ", "))
	}
	if p.Level != "" && p.Level != "simple" && p.Level != "standard" {
		return bad("level", "%q is not simple or standard", p.Level)
	}
	if p.DailyCap < 0 || p.DailyCap > MaxDailyCap {
		return bad("daily_cap", "must be between 1 and %d (0 for the default, %d)", MaxDailyCap, DefaultDailyCap)
	}
	for _, c := range p.OptOut {
		if !slices.Contains(externalChannels, c) {
			return bad("opt_out", "unknown channel %q (email or sms)", c)
		}
	}
	return nil
}

// Languages are the languages messages are written in.
var Languages = []string{"en", "es"}

// ParsePreferences decodes and checks preferences sent by a person.
func ParsePreferences(raw []byte) (Preferences, error) {
	var p Preferences
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Preferences{}, errs.Invalidf("", "Preferences are not valid JSON of the expected form: %v.", err)
	}
	return p, p.Check()
}

// clockMinutes parses "HH:MM" into minutes after midnight.
func clockMinutes(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day such as 21:00", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day such as 21:00", s)
	}
	return hh*60 + mm, nil
}

// quietUntil returns when the quiet hours around now end, in loc, or the
// zero time when now is not within them. Quiet hours may span midnight
// (21:00 to 08:00).
func quietUntil(now time.Time, loc *time.Location, start, end string) time.Time {
	s, err1 := clockMinutes(start)
	e, err2 := clockMinutes(end)
	if err1 != nil || err2 != nil || s == e {
		return time.Time{}
	}
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	at := func(dayOffset, minutes int) time.Time {
		// Built from the date, so that days with a clock change keep the
		// wall time (AddDate, then the minutes).
		d := midnight.AddDate(0, 0, dayOffset)
		return time.Date(d.Year(), d.Month(), d.Day(), minutes/60, minutes%60, 0, 0, loc)
	}
	switch {
	case s < e && m >= s && m < e: // 01:00–06:00
		return at(0, e)
	case s > e && m >= s: // 21:00–08:00, evening side
		return at(1, e)
	case s > e && m < e: // morning side
		return at(0, e)
	}
	return time.Time{}
}

// nextMorning returns when the next day begins for sending in loc: the
// end of quiet hours on the next day, or 08:00 without quiet hours.
func nextMorning(now time.Time, loc *time.Location, quietEnd string) time.Time {
	e, err := clockMinutes(quietEnd)
	if err != nil {
		e = 8 * 60
	}
	local := now.In(loc)
	d := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	return time.Date(d.Year(), d.Month(), d.Day(), e/60, e%60, 0, 0, loc)
}

// startOfDay returns the local midnight of now in loc.
func startOfDay(now time.Time, loc *time.Location) time.Time {
	l := now.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// location loads a time zone, UTC when the name is empty or unknown.
func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
