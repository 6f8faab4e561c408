package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Defaults and limits of Config.
const (
	DefaultSeed          = 1
	DefaultPatients      = 200
	DefaultPractitioners = 8
	DefaultMonths        = 12

	MaxPatients      = 100000
	MaxPractitioners = 1000
	MaxMonths        = 120
)

// Config says what to generate. The same Config always yields byte-identical
// output. Zero Seed, Patients, Practitioners and Months select their defaults.
type Config struct {
	Seed          int64     // default 1 when zero
	Patients      int       // default 200; 1..100000
	Practitioners int       // default 8; 1..1000
	Months        int       // default 12; 1..120: orders and results spread over the Months before Anchor (the showcase patient's reach back about two years regardless)
	Anchor        time.Time // the "now" of the data set; required. It is used in UTC, truncated to the second.
}

// Resource is one FHIR R4 resource ready to store.
type Resource struct {
	Type string // the FHIR resource type, e.g. "Patient"
	ID   string // the FHIR id: a UUID derived from the seed and a stable key
	JSON []byte // the resource as JSON, including resourceType and id, without meta
}

// Clinic is the organisation-level data of the demo clinic.
//
// Organization is the clinic itself. Resources holds, in dependency order,
// the Locations (the clinic, then its laboratory), the Practitioners, the
// PractitionerRoles, then for each physician a Schedule followed by its
// Slots; it does not repeat Organization. Practitioners describes the staff
// in the same order as their Practitioner resources.
//
// The appointment book: each physician's Schedule (active, its actors the
// physician and the clinic's Location, service type "General practice")
// has Slots of 20 minutes, Monday to Friday from 09:00 to 12:00 and from
// 14:00 to 17:00 in TimeZone, for every such slot that starts after Anchor
// and less than 28 days after it; about 15 in 100 are busy, the rest free.
type Clinic struct {
	Name          string
	Slug          string
	TimeZone      string // IANA zone of the clinic, "America/Chicago": its opening hours and business days
	Organization  Resource
	Resources     []Resource
	Practitioners []PractitionerInfo
}

// All returns the Organization followed by Resources: every clinic resource
// in an order in which each refers only to resources before it.
func (c Clinic) All() []Resource {
	return append([]Resource{c.Organization}, c.Resources...)
}

// PractitionerInfo summarises one staff member. ID is the id of their
// Practitioner resource. Role is one of "physician", "nurse",
// "lab-technician", "radiology-technician" and "care-coordinator". Email is
// at example.org.
type PractitionerInfo struct {
	ID, Name, Role, Email string
}

// PatientRecord is one patient and all of their clinical data.
//
// Resources starts with the Patient, then the patient's Conditions, then for
// each order in chronological order its ServiceRequest, Specimen,
// Observations and DiagnosticReport (those that exist at Anchor); the
// showcase patient's record ends with the telephone call about their
// critical result and their follow-up order (see Showcase). Every
// reference in them points at a resource in the same record or in the
// Clinic, and at one before it.
type PatientRecord struct {
	Index     int    // the i of Generator.Patient(i)
	PatientID string // the id of the Patient resource
	Name      string // given and family name, e.g. "María García"
	BirthDate string // FHIR date, e.g. "1958-04-17"
	Resources []Resource
}

// Generator produces the demo data set described by a Config.
// A Generator is safe for concurrent use by multiple goroutines.
type Generator struct {
	cfg    Config
	anchor time.Time // cfg.Anchor
	start  time.Time // anchor minus cfg.Months
	seed   [8]byte

	clinic     Clinic
	orgID      string
	mainLocID  string
	labLocID   string
	staff      []staffMember
	physicians []int // indexes into staff
	labTech    int   // index into staff, or -1
	nurse      int   // index into staff, or -1
}

// NewGenerator returns a Generator for cfg after filling in defaults. It
// returns an error naming every field that is out of range: Patients must be
// 1..100000, Practitioners 1..1000, Months 1..120, and Anchor must be set (and
// lie in the years 1900..9999).
func NewGenerator(cfg Config) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:    cfg,
		anchor: cfg.Anchor,
		start:  cfg.Anchor.AddDate(0, -cfg.Months, 0),
	}
	binary.BigEndian.PutUint64(g.seed[:], uint64(cfg.Seed))
	g.buildClinic()
	return g, nil
}

func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Patients == 0 {
		c.Patients = DefaultPatients
	}
	if c.Practitioners == 0 {
		c.Practitioners = DefaultPractitioners
	}
	if c.Months == 0 {
		c.Months = DefaultMonths
	}
	if !c.Anchor.IsZero() {
		c.Anchor = c.Anchor.UTC().Truncate(time.Second)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Patients < 1 || c.Patients > MaxPatients {
		errs = append(errs, fmt.Errorf("demo: Patients must be between 1 and %d, got %d", MaxPatients, c.Patients))
	}
	if c.Practitioners < 1 || c.Practitioners > MaxPractitioners {
		errs = append(errs, fmt.Errorf("demo: Practitioners must be between 1 and %d, got %d", MaxPractitioners, c.Practitioners))
	}
	if c.Months < 1 || c.Months > MaxMonths {
		errs = append(errs, fmt.Errorf("demo: Months must be between 1 and %d, got %d", MaxMonths, c.Months))
	}
	switch {
	case c.Anchor.IsZero():
		errs = append(errs, errors.New("demo: Anchor is required (the \"now\" of the data set)"))
	case c.Anchor.Year() < 1900 || c.Anchor.Year() > 9999:
		errs = append(errs, fmt.Errorf("demo: Anchor must lie in the years 1900 to 9999, got %s", c.Anchor.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Config returns the configuration in use, with defaults filled in and Anchor
// in UTC truncated to the second. Store it to resume seeding later.
func (g *Generator) Config() Config { return g.cfg }

// Count returns the number of patients, the exclusive upper bound of the
// index passed to Patient.
func (g *Generator) Count() int { return g.cfg.Patients }

// Clinic returns the clinic's resources. Each call returns a fresh copy that
// the caller may modify.
func (g *Generator) Clinic() Clinic {
	c := g.clinic
	c.Organization = c.Organization.clone()
	c.Resources = make([]Resource, len(g.clinic.Resources))
	for i, r := range g.clinic.Resources {
		c.Resources[i] = r.clone()
	}
	c.Practitioners = append([]PractitionerInfo(nil), g.clinic.Practitioners...)
	return c
}

func (r Resource) clone() Resource {
	r.JSON = append([]byte(nil), r.JSON...)
	return r
}

// Patient returns patient i and all of their data. The result depends only on
// the Config and i, never on which patients were generated before, so
// seeding can resume at any index; nor does it depend on Config.Patients, so
// a data set can be extended. Patient panics if i is not in [0, Count()).
func (g *Generator) Patient(i int) PatientRecord {
	if i < 0 || i >= g.cfg.Patients {
		panic(fmt.Sprintf("demo: patient index %d out of range [0, %d)", i, g.cfg.Patients))
	}
	return newPatientBuilder(g, i).build()
}

// idPrefix versions the derivation of ids and random streams: changing how
// data is generated for a given key is fine, changing this prefix renames
// everything.
const idPrefix = "careloop-demo/v1\x00"

// digest returns SHA-256 over the id prefix, the seed, kind and key.
func (g *Generator) digest(kind, key string) [32]byte {
	buf := make([]byte, 0, len(idPrefix)+8+len(kind)+1+len(key))
	buf = append(buf, idPrefix...)
	buf = append(buf, g.seed[:]...)
	buf = append(buf, kind...)
	buf = append(buf, 0)
	buf = append(buf, key...)
	return sha256.Sum256(buf)
}

// id returns the FHIR id for key, a string naming the resource uniquely
// within the data set, such as "Patient/17" or "Observation/17/3/glucose".
// The id is formatted as an RFC 9562 version 8 (custom) UUID.
func (g *Generator) id(key string) string {
	h := g.digest("id", key)
	h[6] = h[6]&0x0f | 0x80 // version 8
	h[8] = h[8]&0x3f | 0x80 // RFC 9562 variant
	var b [36]byte
	hex.Encode(b[0:8], h[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], h[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], h[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], h[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], h[10:16])
	return string(b[:])
}

// rng returns the random stream named stream and n: a PCG seeded from the
// Config's seed, so that streams are independent of each other.
func (g *Generator) rng(stream string, n int) *rand.Rand {
	h := g.digest("rng", stream+"/"+strconv.Itoa(n))
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(h[0:8]), binary.BigEndian.Uint64(h[8:16])))
}
