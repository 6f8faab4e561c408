package web

import (
	"net/http"
	"net/url"
	"strings"
)

// displayCookie keeps how pages look on this device: text size and
// contrast. It holds no personal data, so it is kept per device, and
// works on the sign-in page too.
const displayCookie = "careloop_display"

// Display is a reader's choice of text size and contrast.
type Display struct {
	Text     string // "", "large" or "larger"
	Contrast string // "" or "high"
}

// TextSizes are the text sizes a reader may choose ("" is the standard).
var TextSizes = map[string]bool{"": true, "large": true, "larger": true}

// DisplayOf reads the display choices of the request's device; anything
// unknown is the default.
func DisplayOf(r *http.Request) Display {
	var d Display
	c, err := r.Cookie(displayCookie)
	if err != nil {
		return d
	}
	v, err := url.ParseQuery(c.Value)
	if err != nil {
		return d
	}
	if t := v.Get("text"); TextSizes[t] {
		d.Text = t
	}
	if v.Get("contrast") == "high" {
		d.Contrast = "high"
	}
	return d
}

// SetDisplay keeps d on the device for a year.
func SetDisplay(w http.ResponseWriter, d Display) {
	v := url.Values{}
	if d.Text != "" {
		v.Set("text", d.Text)
	}
	if d.Contrast != "" {
		v.Set("contrast", d.Contrast)
	}
	http.SetCookie(w, &http.Cookie{Name: displayCookie, Value: v.Encode(), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// Class is the html element's class for d ("text-large contrast-high"),
// for Data.Class.
func (d Display) Class() string {
	var c []string
	if d.Text != "" {
		c = append(c, "text-"+d.Text)
	}
	if d.Contrast != "" {
		c = append(c, "contrast-"+d.Contrast)
	}
	return strings.Join(c, " ")
}
