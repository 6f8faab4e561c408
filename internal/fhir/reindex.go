package fhir

import (
	"context"
	"database/sql"
	"fmt"
)

// reindexBatch is how many resources one reindexing transaction rewrites.
const reindexBatch = 500

// ReindexProgress tells how far Reindex got: resources rewritten of the
// total live resources counted when it started.
type ReindexProgress struct {
	Done, Total int64
}

// Reindex rewrites the search index rows of every live resource of the
// organisation (of one type when typ is not empty) from its stored JSON,
// in transactions of reindexBatch resources. Run it after an upgrade that
// indexes more (a new search parameter, a new kind of index): until then
// resources stored before the upgrade lack the new rows. It changes no
// resource and no version, announces nothing, and can be stopped and run
// again at any time; progress, if not nil, is called after each batch.
func (s *Store) Reindex(ctx context.Context, orgID, typ string, progress func(ReindexProgress)) (int64, error) {
	if s.indexer == nil {
		return 0, nil
	}
	var total int64
	q := "SELECT count(*) FROM fhir_resources WHERE org_id = $1 AND NOT deleted"
	args := []any{orgID}
	if typ != "" {
		q += " AND resource_type = $2"
		args = append(args, typ)
	}
	if err := s.db.Read.QueryRowContext(ctx, q, args...).Scan(&total); err != nil {
		return 0, fmt.Errorf("fhir: reindex: %w", err)
	}
	var done int64
	afterType, afterID := "", ""
	for {
		var batch []pending
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			batch = batch[:0]
			q := `SELECT rk, resource_type, id, content FROM fhir_resources
				WHERE org_id = $1 AND NOT deleted AND (resource_type, id) > ($2, $3)`
			args := []any{orgID, afterType, afterID}
			if typ != "" {
				q += " AND resource_type = $4"
				args = append(args, typ)
			}
			rows, err := tx.QueryContext(ctx, q+fmt.Sprintf(" ORDER BY resource_type, id LIMIT %d", reindexBatch), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var content string
				st := &Stored{}
				var rk int64
				if err := rows.Scan(&rk, &st.Type, &st.ID, &content); err != nil {
					rows.Close()
					return err
				}
				st.JSON = []byte(content)
				batch = append(batch, pending{st: st, rk: rk, where: -1})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			w := s.writer(orgID)
			for i := range batch {
				p := &batch[i]
				if p.entries, err = s.indexer.Index(p.st.Type, p.st.JSON); err != nil {
					return fmt.Errorf("%s: %w", p.st.Ref(), err)
				}
				if err := unindex(ctx, tx, p); err != nil {
					return err
				}
			}
			return w.insertIndex(ctx, tx, batch)
		})
		if err != nil {
			return done, fmt.Errorf("fhir: reindex after %s/%s: %w", afterType, afterID, err)
		}
		if len(batch) == 0 {
			return done, nil
		}
		done += int64(len(batch))
		last := batch[len(batch)-1].st
		afterType, afterID = last.Type, last.ID
		if progress != nil {
			progress(ReindexProgress{Done: done, Total: max(total, done)})
		}
	}
}
