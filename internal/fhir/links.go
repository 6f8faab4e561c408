package fhir

import (
	"context"
	"fmt"
	"strings"
)

// A Link names a reference search parameter of a resource type, such as
// CareTeam's participant: the way a resource ties a person to it.
type Link struct {
	Type  string
	Param string
}

// PatientsLinkedTo returns the ids of the patients that live resources
// tie to who (a reference such as "Practitioner/1"): every resource of one
// of the links' types that refers to who through the link's parameter,
// and to a Patient through its patient or subject parameter. It answers
// from the search index, in one query. Unknown parameters match nothing.
func (s *Searcher) PatientsLinkedTo(ctx context.Context, orgID, who string, links []Link) ([]string, error) {
	whoType, whoID, ok := strings.Cut(who, "/")
	if !ok || len(links) == 0 {
		return nil, nil
	}
	q := &query{org: orgID}
	q.arg(orgID)
	ors := make([]string, len(links))
	for i, l := range links {
		ors[i] = fmt.Sprintf("(%s AND (%s OR %s))", s.paramRowsCond(q, "a", l.Type, l.Param),
			s.paramRowsCond(q, "p", l.Type, "patient"), s.paramRowsCond(q, "p", l.Type, "subject"))
	}
	// CROSS JOIN keeps SQLite to this order, from the rows naming who:
	// it otherwise starts from every reference to a Patient.
	sqlText := fmt.Sprintf(`SELECT DISTINCT p.target_id FROM fhir_idx_reference a
		CROSS JOIN fhir_resources r CROSS JOIN fhir_idx_reference p
		WHERE r.rk = a.res AND p.res = a.res AND r.org_id = $1 AND a.target_type = %s AND a.target_id = %s AND (%s)
			AND p.target_type = 'Patient' AND p.target_id <> ''
		ORDER BY p.target_id`, q.arg(whoType), q.arg(whoID), strings.Join(ors, " OR "))
	rows, err := s.db.Read.QueryContext(ctx, sqlText, q.args...)
	if err != nil {
		return nil, fmt.Errorf("fhir: patients linked to %s: %w", who, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("fhir: patients linked to %s: %w", who, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
