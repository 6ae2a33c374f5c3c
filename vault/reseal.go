package vault

import (
	"context"
	"strconv"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// ActionEventReseal records a maintenance run that seals stored events again in the binary attribute
// encoding (attrbin.go): one entry per subject whose events it opened, and one per batch it stored.
const ActionEventReseal Action = "event.reseal"

// resealBatch is the number of subjects ResealEvents takes at a time (about 17,000 events of the synthetic
// shop: one transaction of a few megabytes).
const resealBatch = 500

// ResealOptions tunes and observes ResealEvents.
type ResealOptions struct {
	// Progress receives the number of subjects done after every batch.
	Progress func(subjects int)
	// BatchSize is the number of subjects per batch (default resealBatch).
	BatchSize int
}

// ResealResult counts what ResealEvents did.
type ResealResult struct {
	// Subjects is how many active subjects it went through; Events how many of their events it read.
	Subjects, Events int
	// Resealed is how many events it sealed again; Current how many were already in the binary encoding.
	Resealed, Current int
	// Unopened counts events it could not open (a key this node lacks) or decode: left as they are, still
	// readable wherever they were before.
	Unopened int
	// AuditSeq is the run's first entry.
	AuditSeq int64
}

// ResealEvents seals the attributes of every stored event that is still JSON again in the binary encoding,
// under the same DEK, a batch of subjects at a time: the values do not change, and an event changed or
// deleted meanwhile is left alone (ResealEvents on the store compares the sealed bytes). Only admin may run
// it. It opens personal data, so it goes through the enforcement point as any batch does: each subject's
// events are opened under a durable entry of their own (their access log shows the maintenance), and each
// stored batch has an entry counting it. Running it again reseals nothing and changes nothing.
func (s *Ingestion) ResealEvents(ctx context.Context, a Access, opts ResealOptions) (ResealResult, error) {
	var res ResealResult
	pol := s.Policy()
	e := s.newEntry(ctx, a, pol, ActionEventReseal, "")
	if !pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceKeys, policies.ActRotate) {
		return res, s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "only admin may reseal events"))
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = resealBatch
	}
	start := e
	start.Decision, start.Status, start.Reason = audit.Allow, statusOK, "reseal:start"
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return start })
	if err != nil {
		return res, internalErr("audit reseal", err)
	}
	res.AuditSeq = seq
	for after := ""; ; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		ids, err := s.profiles.activeIDs(ctx, after, batch)
		if err != nil {
			return res, internalErr("list subjects", err)
		}
		if len(ids) == 0 {
			return res, nil
		}
		after = ids[len(ids)-1]
		if err := s.resealSubjects(ctx, e, ids, &res); err != nil {
			return res, err
		}
		if opts.Progress != nil {
			opts.Progress(res.Subjects)
		}
	}
}

// resealSubjects reseals the events of one batch of subjects.
func (s *Ingestion) resealSubjects(ctx context.Context, e audit.Entry, ids []string, res *ResealResult) error {
	recs, err := s.activeSubjects(ctx, ids, []string{}) // the keys, no field
	if err != nil {
		return internalErr("read subjects", err)
	}
	var subjects []string
	var entries []audit.Entry
	for _, id := range ids {
		rec, ok := recs[id]
		if !ok || len(rec.DEKs) == 0 {
			continue // erased meanwhile, or nothing was ever sealed for them
		}
		se := e
		se.SubjectRef = refFor(s.gate, id, rec.RefSalt)
		se.Decision, se.Status, se.Reason = audit.Allow, statusOK, "reseal:events"
		subjects, entries = append(subjects, id), append(entries, se)
	}
	res.Subjects += len(recs)
	if len(subjects) == 0 {
		return nil
	}
	rel, err := s.gate.commitMany(ctx, nil, func(error) []audit.Entry { return entries }, subjects)
	if err != nil {
		return internalErr("audit reseal", err)
	}
	var resealed []ResealedEvent
	for _, id := range subjects {
		rec := recs[id]
		err := s.events.Events(ctx, id, func(ev StoredEvent) error {
			res.Events++
			d, ok := rec.DEKs[ev.Class]
			if !ok || d.Version != ev.DEKVersion {
				res.Unopened++ // its key is gone (shredded, waiting for the purge) or newer than the record read
				return nil
			}
			ad := eventAD(ev.ID)
			plain, err := rel.open(d, ad, ev.Attrs)
			if err != nil {
				res.Unopened++
				return nil
			}
			if len(plain) > 0 && plain[0] == attrsBinary {
				res.Current++
				return nil
			}
			attrs, err := decodeJSONAttrsOf(plain, nil)
			if err != nil {
				res.Unopened++
				return nil
			}
			enc, err := encodeAttrs(attrs)
			if err != nil {
				res.Unopened++
				return nil
			}
			sealed, err := s.gate.seal(d, ad, enc)
			if err != nil {
				return err
			}
			resealed = append(resealed, ResealedEvent{SubjectID: id, ID: ev.ID, Old: ev.Attrs, New: sealed})
			return nil
		})
		if err != nil {
			return internalErr("reseal events", err)
		}
	}
	if len(resealed) == 0 {
		return nil
	}
	n := 0
	_, err = s.seq.Commit(ctx, func(tx Tx) error {
		var err error
		n, err = tx.ResealEvents(resealed)
		return err
	}, func(changeErr error) audit.Entry {
		be := e
		be.TS = s.now().UTC()
		be.Decision, be.Status = audit.Allow, statusOK
		be.Reason = "reseal:batch subjects:" + strconv.Itoa(len(subjects)) + " events:" + strconv.Itoa(n)
		if changeErr != nil {
			be.Decision, be.Status, be.Reason = audit.Deny, statusInternal, reasonInternal
		}
		return be
	})
	if err != nil {
		return internalErr("store resealed events", err)
	}
	res.Resealed += n
	return nil
}
