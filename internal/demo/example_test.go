package demo_test

import (
	"fmt"
	"log"
	"time"

	"github.com/careloop/careloop/internal/demo"
)

// This example seeds a store: the clinic first, then each patient in turn.
// Because Patient(i) depends only on the Config and i, an interrupted run can
// resume at the first patient not yet stored, with the same Config.
func Example() {
	g, err := demo.NewGenerator(demo.Config{
		Patients: 3,
		Anchor:   time.Date(2026, 3, 16, 15, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	store := func(r demo.Resource) { /* write r.JSON as r.Type/r.ID */ }

	clinic := g.Clinic()
	for _, r := range clinic.All() {
		store(r)
	}
	fmt.Printf("%s: %d staff\n", clinic.Name, len(clinic.Practitioners))

	resume := 0 // the number of patients already stored
	for i := resume; i < g.Count(); i++ {
		p := g.Patient(i)
		for _, r := range p.Resources {
			store(r)
		}
		fmt.Printf("patient %d: %s, born %s, %d resources\n", p.Index, p.Name, p.BirthDate, len(p.Resources))
	}
	// Output:
	// Riverside Family Clinic: 8 staff
	// patient 0: Beverly Gibson, born 1965-09-15, 103 resources
	// patient 1: Jason Allen, born 1970-06-24, 50 resources
	// patient 2: Ethan Cole, born 2007-09-13, 1 resources
}
