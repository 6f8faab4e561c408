// Package demo generates a deterministic, synthetic demo data set as FHIR R4
// JSON: a clinic with its staff and appointment book, and patients with a
// year (by default) of laboratory orders and results, one of whom shows
// every page of the patient portal at its best.
//
// The data set is a family clinic, "Riverside Family Clinic" in Riverside,
// Illinois (time zone America/Chicago), with a laboratory, physicians,
// nurses, a laboratory technician and a care coordinator, and a panel of
// patients of all ages and several preferred languages. Each patient has an
// address, telephone and e-mail contacts (fictional 555-01xx numbers,
// example.com addresses), a medical record number, a general practitioner
// and contact preferences, carried in the extension named by
// ContactPreferencesURL. Some adults have chronic conditions (type 2
// diabetes, hyperlipidaemia, chronic kidney disease, hypothyroidism, iron
// deficiency anaemia, fatty liver) that drive extra visits and abnormal
// results.
//
// Each physician has an appointment book: a Schedule (the physician and the
// clinic, "General practice") with Slots of 20 minutes, Monday to Friday
// from 09:00 to 12:00 and from 14:00 to 17:00 in the clinic's time zone,
// over the 28 days after Anchor, a deterministic few of them busy. They are
// what a follow-up visit is booked in.
//
// Each laboratory order is a ServiceRequest, a Specimen, one Observation per
// analyte and a DiagnosticReport. Tests are LOINC-coded with UCUM units,
// reference intervals (by sex and age where they differ) and v3
// interpretation codes (N, L, H, LL, HH; A for a positive dipstick). About
// one result in nine is outside its reference interval and a handful are
// critical. Orders older than a few days are complete; the last few days hold
// orders awaiting collection or results, preliminary reports, and the odd
// cancelled order or amended report, so that result journeys,
// notifications and the portal have something to show.
//
// # The showcase patient
//
// Patient ShowcasePatient (0), who signs in as patient@example.com, has a
// record written rather than drawn (see Showcase for the details): type 2
// diabetes and hyperlipidaemia; a hemoglobin A1c rising over two years
// (6.2, 6.6, 7.0, 7.5 %, old enough to be imported history to the
// journeys); and a visit a few days before Anchor with a normal complete
// blood count, a critical potassium (6.4 mmol/L) and an A1c of 8.1 %, all
// final and recent, so that they go through the journeys' normal flow:
// released to the patient at once (the default policy), a message in the
// patient's inbox for each. The clinician's comment for the patient is in
// the conclusion of the critical and the abnormal report; the clinician
// telephoned the patient about the critical result (a Communication) and
// ordered a follow-up visit for the A1c (a ServiceRequest whose
// reasonReference is the A1c report and whose performer is the general
// practitioner, whose Schedule has the free Slots); a lipid panel waits for
// its result, its specimen collected on the last weekday before Anchor.
// Seeder.Journeys plays the care team's part in careloop itself: the
// general practitioner acknowledges the critical result and reviews the
// others.
//
// Output depends only on the Config: the same Config gives byte-identical
// resources and ids on every run, and Generator.Patient(i) does not depend
// on which other patients were generated, so seeding can stop and resume at
// any patient. Ids are UUIDs derived with SHA-256 from the seed and a stable
// key; randomness comes from a PCG stream per patient (math/rand/v2).
// Byte-identical output is guaranteed for a given Go release; values are
// computed in floating point and rounded, so a different release or
// architecture is expected, but not guaranteed, to give the same bytes.
// Local times are computed with the time zone database embedded in the
// binary when the system has none.
//
// The people are fictional. The reference intervals are for demonstration
// and must not be used for patient care.
package demo
