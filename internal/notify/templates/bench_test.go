package templates

import "testing"

// BenchmarkRender measures rendering one patient email and one SMS with
// every field set, from the pre-parsed catalog.
func BenchmarkRender(b *testing.B) {
	c := Default()
	d := Data{Name: "Alex", Org: "Riverside Clinic", Link: sampleLink(), Prefs: "https://clinic.example/account/notifications",
		Detail: "cholesterol test", When: "Tuesday, March 3 at 9:30 AM"}
	for _, k := range []Key{{ResultReady, Email, English, Simple}, {AppointmentReminder, SMS, Spanish, Simple}} {
		b.Run(k.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Render(k, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
