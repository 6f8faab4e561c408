// Package demo generates a deterministic, synthetic demo data set as FHIR R4
// JSON: a clinic with its staff, and patients with a year (by default) of
// laboratory orders and results.
//
// The data set is a family clinic, "Riverside Family Clinic", with a
// laboratory, physicians, nurses, a laboratory technician and a care
// coordinator, and a panel of patients of all ages and several preferred
// languages. Each patient has an address, telephone and e-mail contacts
// (fictional 555-01xx numbers, example.com addresses), a medical record
// number, a general practitioner and contact preferences, carried in the
// extension named by ContactPreferencesURL. Some adults have chronic
// conditions (type 2 diabetes, hyperlipidaemia, chronic kidney disease,
// hypothyroidism, iron deficiency anaemia, fatty liver) that drive extra
// visits and abnormal results.
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
// Output depends only on the Config: the same Config gives byte-identical
// resources and ids on every run, and Generator.Patient(i) does not depend
// on which other patients were generated, so seeding can stop and resume at
// any patient. Ids are UUIDs derived with SHA-256 from the seed and a stable
// key; randomness comes from a PCG stream per patient (math/rand/v2).
// Byte-identical output is guaranteed for a given Go release; values are
// computed in floating point and rounded, so a different release or
// architecture is expected, but not guaranteed, to give the same bytes.
//
// The people are fictional. The reference intervals are for demonstration
// and must not be used for patient care.
package demo
