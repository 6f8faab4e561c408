package demo

import (
	"strconv"
	"time"
	_ "time/tzdata" // the clinic's zone must load on machines without a zone database
)

// clinicTimeZone is the IANA zone of the clinic (Riverside, Illinois): its
// appointment book and the showcase patient's visits are in local time.
const clinicTimeZone = "America/Chicago"

// clinicZone is clinicTimeZone loaded.
var clinicZone = func() *time.Location {
	loc, err := time.LoadLocation(clinicTimeZone)
	if err != nil {
		panic("demo: load the clinic's time zone: " + err.Error())
	}
	return loc
}()

// The appointment book: each physician sees patients in slots of
// slotLength in the sessions below, Monday to Friday, local time, over the
// bookDays after Anchor. About busyShare of the slots are taken already.
const (
	slotLength = 20 * time.Minute
	bookDays   = 28
	busyShare  = 0.15
)

// sessions are the opening hours of a weekday, in minutes after local
// midnight: 09:00 to 12:00 and 14:00 to 17:00.
var sessions = [][2]int{{9 * 60, 12 * 60}, {14 * 60, 17 * 60}}

// generalPractice is the service the appointment book offers.
var generalPractice = []codeableConcept{{Text: "General practice"}}

// buildSchedules appends to c one Schedule per physician, with the
// physician and the clinic as its actors, followed by that Schedule's
// Slots: every slot of the sessions that starts after Anchor and less than
// bookDays after it, free or (a deterministic few) busy.
func (g *Generator) buildSchedules(c *Clinic) {
	end := g.anchor.AddDate(0, 0, bookDays)
	horizon := &period{Start: ts(g.anchor), End: ts(end)}
	local := g.anchor.In(clinicZone)
	first := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, clinicZone)
	mainLoc := reference{Reference: "Location/" + g.mainLocID, Display: clinicName}
	for _, k := range g.physicians {
		st := g.staff[k]
		schedID := g.id("Schedule/" + strconv.Itoa(k))
		c.Resources = append(c.Resources, Resource{Type: "Schedule", ID: schedID, JSON: marshal(scheduleJSON{
			ResourceType: "Schedule",
			ID:           schedID,
			Active:       true,
			ServiceType:  generalPractice,
			Specialty:    []codeableConcept{concept(systemSNOMED, "419772000", "Family practice")},
			Actor: []reference{
				{Reference: "Practitioner/" + st.info.ID, Display: st.display},
				mainLoc,
			},
			PlanningHorizon: horizon,
			Comment:         "Appointments of 20 minutes, Monday to Friday 9:00 to 12:00 and 14:00 to 17:00.",
		})})
		r := g.rng("slots", k)
		for day := first; day.Before(end); day = day.AddDate(0, 0, 1) {
			if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
				continue
			}
			for _, s := range sessions {
				for m := s[0]; m+int(slotLength/time.Minute) <= s[1]; m += int(slotLength / time.Minute) {
					start := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, clinicZone)
					if !start.After(g.anchor) || !start.Before(end) {
						continue
					}
					status := "free"
					if r.Float64() < busyShare {
						status = "busy"
					}
					id := g.id("Slot/" + strconv.Itoa(k) + "/" + start.Format("2006-01-02T15:04"))
					c.Resources = append(c.Resources, Resource{Type: "Slot", ID: id, JSON: marshal(slotJSON{
						ResourceType: "Slot",
						ID:           id,
						ServiceType:  generalPractice,
						Schedule:     ref("Schedule", schedID),
						Status:       status,
						Start:        ts(start),
						End:          ts(start.Add(slotLength)),
					})})
				}
			}
		}
	}
}
