package demo

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

const (
	clinicName  = "Riverside Family Clinic"
	clinicSlug  = "riverside-family-clinic"
	clinicPhone = "+17085550100"
	labPhone    = "+17085550101"
)

// Staff roles, as in PractitionerInfo.Role.
const (
	rolePhysician   = "physician"
	roleNurse       = "nurse"
	roleLabTech     = "lab-technician"
	roleRadTech     = "radiology-technician"
	roleCoordinator = "care-coordinator"
)

// rolePattern assigns roles to practitioners in turn, so that any clinic has
// a physician and the default eight cover every role.
var rolePattern = []string{
	rolePhysician, rolePhysician, roleNurse, roleLabTech,
	roleCoordinator, rolePhysician, roleNurse, roleRadTech,
}

var roleDisplay = map[string]string{
	rolePhysician:   "Physician",
	roleNurse:       "Nurse",
	roleLabTech:     "Laboratory technician",
	roleRadTech:     "Radiology technician",
	roleCoordinator: "Care coordinator",
}

// roleSuffix is the credential written after a staff member's name.
var roleSuffix = map[string]string{
	rolePhysician: "MD",
	roleNurse:     "RN",
	roleLabTech:   "MLS",
	roleRadTech:   "RT",
}

type staffMember struct {
	info    PractitionerInfo
	roleID  string
	display string // the name as written, e.g. "Dr. Ana Ruiz, MD"
}

var clinicAddress = address{
	Use:        "work",
	Type:       "physical",
	Line:       []string{"1200 Riverbend Avenue"},
	City:       "Riverside",
	State:      "IL",
	PostalCode: "60546",
	Country:    "US",
}

func (g *Generator) buildClinic() {
	r := g.rng("clinic", 0)
	g.orgID = g.id("Organization/clinic")
	g.mainLocID = g.id("Location/main")
	g.labLocID = g.id("Location/lab")
	orgRef := ref("Organization", g.orgID)

	npis := map[string]bool{}
	newNPI := func() string {
		for {
			n := npi(r)
			if !npis[n] {
				npis[n] = true
				return n
			}
		}
	}

	addr := clinicAddress
	org := organizationJSON{
		ResourceType: "Organization",
		ID:           g.orgID,
		Identifier:   []identifier{{System: systemNPI, Value: newNPI()}},
		Active:       true,
		Type:         []codeableConcept{concept(systemOrgType, "prov", "Healthcare Provider")},
		Name:         clinicName,
		Telecom: []contactPoint{
			{System: "phone", Value: clinicPhone, Use: "work"},
			{System: "email", Value: "frontdesk@example.org", Use: "work"},
		},
		Address: []address{addr},
	}
	mainLoc := locationJSON{
		ResourceType:         "Location",
		ID:                   g.mainLocID,
		Status:               "active",
		Name:                 clinicName,
		Description:          "Primary care clinic",
		Mode:                 "instance",
		Type:                 []codeableConcept{concept(systemRoleCode, "FMC", "Family Medicine Clinic")},
		Telecom:              []contactPoint{{System: "phone", Value: clinicPhone, Use: "work"}},
		Address:              &addr,
		ManagingOrganization: orgRef,
	}
	labLoc := locationJSON{
		ResourceType:         "Location",
		ID:                   g.labLocID,
		Status:               "active",
		Name:                 clinicName + " Laboratory",
		Description:          "Phlebotomy and clinical laboratory",
		Mode:                 "instance",
		Type:                 []codeableConcept{{Text: "Clinical laboratory"}},
		Telecom:              []contactPoint{{System: "phone", Value: labPhone, Use: "work"}},
		Address:              &addr,
		ManagingOrganization: orgRef,
		PartOf:               ref("Location", g.mainLocID),
	}

	c := Clinic{
		Name:         clinicName,
		Slug:         clinicSlug,
		TimeZone:     clinicTimeZone,
		Organization: Resource{Type: "Organization", ID: g.orgID, JSON: marshal(org)},
		Resources: []Resource{
			{Type: "Location", ID: g.mainLocID, JSON: marshal(mainLoc)},
			{Type: "Location", ID: g.labLocID, JSON: marshal(labLoc)},
		},
	}

	g.labTech, g.nurse = -1, -1
	emails := map[string]bool{}
	var roles []Resource
	for k := 0; k < g.cfg.Practitioners; k++ {
		role := rolePattern[k%len(rolePattern)]
		s := female
		if r.IntN(100) < 45 {
			s = male
		}
		grp := groupUS
		switch x := r.IntN(100); {
		case x < 20:
			grp = groupHispanic
		case x < 24:
			grp = groupVietnamese
		case x < 28:
			grp = groupChinese
		case x < 30:
			grp = groupFrench
		}
		born := 1958 + r.IntN(40)
		given := pickOne(r, givenNames(s, grp, born))
		family := pickOne(r, surnames(grp))
		local := emailLocal(given) + "." + emailLocal(family)
		email := local + "@example.org"
		for n := 2; emails[email]; n++ {
			email = local + strconv.Itoa(n) + "@example.org"
		}
		emails[email] = true

		id := g.id("Practitioner/" + strconv.Itoa(k))
		roleID := g.id("PractitionerRole/" + strconv.Itoa(k))
		name := humanName{Use: "official", Text: given + " " + family, Family: family, Given: []string{given}}
		if role == rolePhysician {
			name.Prefix = []string{"Dr."}
			name.Text = "Dr. " + name.Text
		}
		if sfx := roleSuffix[role]; sfx != "" {
			name.Suffix = []string{sfx}
			name.Text += ", " + sfx
		}
		gender := "female"
		if s == male {
			gender = "male"
		}
		pr := practitionerJSON{
			ResourceType: "Practitioner",
			ID:           id,
			Identifier:   []identifier{{System: systemNPI, Value: newNPI()}},
			Active:       true,
			Name:         []humanName{name},
			Telecom:      []contactPoint{{System: "email", Value: email, Use: "work"}},
			Gender:       gender,
		}
		c.Resources = append(c.Resources, Resource{Type: "Practitioner", ID: id, JSON: marshal(pr)})

		codes := []coding{{System: systemStaffRole, Code: role, Display: roleDisplay[role]}}
		switch role {
		case rolePhysician:
			codes = append(codes, coding{System: systemPractRole, Code: "doctor", Display: "Doctor"})
		case roleNurse:
			codes = append(codes, coding{System: systemPractRole, Code: "nurse", Display: "Nurse"})
		}
		prr := practitionerRoleJSON{
			ResourceType: "PractitionerRole",
			ID:           roleID,
			Active:       true,
			Practitioner: ref("Practitioner", id),
			Organization: orgRef,
			Code:         []codeableConcept{{Coding: codes, Text: roleDisplay[role]}},
			Location:     []reference{*ref("Location", g.mainLocID)},
			Telecom:      []contactPoint{{System: "email", Value: email, Use: "work"}},
		}
		switch role {
		case rolePhysician:
			prr.Specialty = []codeableConcept{concept(systemSNOMED, "419772000", "Family practice")}
			g.physicians = append(g.physicians, k)
		case roleLabTech:
			prr.Location = []reference{*ref("Location", g.labLocID)}
			if g.labTech < 0 {
				g.labTech = k
			}
		case roleNurse:
			if g.nurse < 0 {
				g.nurse = k
			}
		}
		roles = append(roles, Resource{Type: "PractitionerRole", ID: roleID, JSON: marshal(prr)})

		info := PractitionerInfo{ID: id, Name: given + " " + family, Role: role, Email: email}
		c.Practitioners = append(c.Practitioners, info)
		g.staff = append(g.staff, staffMember{info: info, roleID: roleID, display: name.Text})
	}
	c.Resources = append(c.Resources, roles...)
	g.buildSchedules(&c)
	g.clinic = c
}

// npi returns a random 10-digit National Provider Identifier starting with 1
// or 2 whose last digit is the Luhn check digit computed with the "80840"
// prefix, as the NPI standard specifies.
func npi(r *rand.Rand) string {
	body := strconv.Itoa(1+r.IntN(2)) + fmt.Sprintf("%08d", r.IntN(100000000))
	return body + strconv.Itoa(luhnCheckDigit("80840"+body))
}

// luhnCheckDigit returns the digit that makes payload followed by it pass the
// Luhn check.
func luhnCheckDigit(payload string) int {
	sum := 0
	double := true
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// pickOne returns a uniformly chosen element of list.
func pickOne[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }
