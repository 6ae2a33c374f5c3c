package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// Review is the audit trail as compliance officers and auditors read it: filtered review, export,
// verification, checkpoints and inclusion proofs. Every read of the trail is itself recorded.
type Review struct {
	*core
	trail audit.Store
	// incidents keeps incident records (nil: not kept); profiles lists the subjects an incident's scope
	// is matched against.
	incidents IncidentStore
	profiles  *Profiles
	access    *AccessRequests
	// policies reads the policy versions recorded in force (nil: not kept): a report judges an entry by the
	// catalog its access was decided under.
	policies PolicyStore
}

// policyOf returns the recorded policy version an entry names (its policy_hash), compiled once per hash
// through cache; the policy in force when the version is not recorded (or no history is kept).
func (s *Review) policyOf(ctx context.Context, hash string, cache map[string]*policies.Set) *policies.Set {
	if p, ok := cache[hash]; ok {
		return p
	}
	p := s.Policy()
	if s.policies != nil && hash != "" && hash != p.Hash() {
		if v, err := recordedPolicy(ctx, s.policies, hash); err == nil {
			p = v
		}
	}
	cache[hash] = p
	return p
}

// Review returns the service; it shares the enforcement point's core.
func (s *Service) Review() *Review { return s.review }

// Actions on the trail itself: reading it is recorded like any other access.
const (
	ActionAuditRead   Action = "audit.read"
	ActionAuditExport Action = "audit.export"
	ActionAuditVerify Action = "audit.verify"
)

// AuditQuery is a compliance officer's review request.
type AuditQuery struct {
	SubjectID, Actor, Purpose, Action string
	Decision                          audit.Decision
	GrantID                           string
	Since, Until                      time.Time
	Cursor                            string
	Limit                             int
	// MinSeq is the entry the review must include (the index is fed off the hot path); 0 means every entry
	// acknowledged when the query began.
	MinSeq int64
}

// AuditPage is one page of entries, newest first.
type AuditPage struct {
	Events     []audit.Entry
	NextCursor string
	AuditSeq   int64
}

const maxAuditPage = 500

// mayReadTrail checks the purpose and the role for reading the trail, recording a refusal.
func (s *Review) mayReadTrail(ctx context.Context, a Access, action Action, subjectID string) (*policies.Set, audit.Entry, error) {
	pol := s.Policy()
	if _, err := s.checkPurpose(ctx, pol, a, action); err != nil {
		return nil, audit.Entry{}, err
	}
	e := s.newEntry(ctx, a, pol, action, subjectID)
	if !pol.Allowed(a.Caller.Roles, a.Purpose, policies.ResourceAudit, policies.ActRead) {
		return nil, e, s.deny(ctx, e, statusForbidden, reasonNoPolicy,
			Errorf(CodePermissionDenied, "your roles may not read the audit trail for this purpose"))
	}
	return pol, e, nil
}

// AuditEvents returns entries matching q, newest first, with a cursor to the next page. The read is itself
// recorded (durably, before the page is returned).
func (s *Review) AuditEvents(ctx context.Context, a Access, q AuditQuery) (AuditPage, error) {
	f := audit.Filter{Actor: q.Actor, Purpose: q.Purpose, Action: q.Action, Decision: q.Decision, GrantID: q.GrantID, Since: q.Since, Until: q.Until, Limit: q.Limit, MinSeq: q.MinSeq}
	if f.Limit <= 0 || f.Limit > maxAuditPage {
		f.Limit = 100
	}
	if q.Cursor != "" {
		n, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || n < 1 {
			return AuditPage{}, s.refuseInvalid(ctx, a, ActionAuditRead, "", Errorf(CodeInvalidArgument, "bad cursor"))
		}
		f.Before = n
	}
	switch q.Decision {
	case "", audit.Allow, audit.Partial, audit.Deny:
	default:
		return AuditPage{}, s.refuseInvalid(ctx, a, ActionAuditRead, "", Errorf(CodeInvalidArgument, "decision must be allow, partial or deny"))
	}
	_, e, err := s.mayReadTrail(ctx, a, ActionAuditRead, q.SubjectID)
	if err != nil {
		return AuditPage{}, err
	}
	if q.SubjectID != "" {
		f.SubjectRef = e.SubjectRef
	}
	events, err := s.trail.Query(ctx, f)
	if err != nil {
		return AuditPage{}, internalErr("query audit trail", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "entries:"+strconv.Itoa(len(events))
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return AuditPage{}, internalErr("audit the audit read", err)
	}
	page := AuditPage{Events: events, AuditSeq: seq}
	if len(events) == f.Limit {
		page.NextCursor = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	return page, nil
}

// AuditExport records the export durably, tells recorded the entry's sequence number, then streams the
// entries' canonical bytes (oldest first) to fn.
func (s *Review) AuditExport(ctx context.Context, a Access, since, until time.Time, recorded func(auditSeq int64), fn func(seq int64, canonical []byte) error) (int64, error) {
	_, e, err := s.mayReadTrail(ctx, a, ActionAuditExport, "")
	if err != nil {
		return 0, err
	}
	e.Decision, e.Status = audit.Allow, statusOK
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return 0, internalErr("audit the audit export", err)
	}
	recorded(seq)
	return seq, s.trail.Export(ctx, since, until, fn)
}

// mayCheckTrail allows the roles that may verify the trail (no declared purpose: it returns no personal
// data).
func (s *Review) mayCheckTrail(ctx context.Context, a Access) error {
	pol := s.Policy()
	if pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceAudit, policies.ActVerify) {
		return nil
	}
	e := s.newEntry(ctx, a, pol, ActionAuditVerify, "")
	return s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not verify the audit trail"))
}

// VerifyTrail recomputes the whole trail (see audit.Verify) and records that it did.
func (s *Review) VerifyTrail(ctx context.Context, a Access) (audit.Report, error) {
	if err := s.mayCheckTrail(ctx, a); err != nil {
		return audit.Report{}, err
	}
	rep, err := s.trail.Verify(ctx, s.signer.Verifier())
	if err != nil {
		return audit.Report{}, internalErr("verify audit trail", err)
	}
	e := s.newEntry(ctx, a, s.Policy(), ActionAuditVerify, "")
	e.Decision, e.Status = audit.Allow, statusOK
	e.Reason = "ok:" + strconv.FormatBool(rep.OK) + " entries:" + strconv.FormatInt(rep.Entries, 10)
	if _, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return audit.Report{}, internalErr("audit the verification", err)
	}
	return rep, nil
}

// CheckpointInfo is the newest signed checkpoint and the key that checks it.
type CheckpointInfo struct {
	Size      int64
	RootHash  string
	Note      string
	KeyID     string
	PublicKey string
	Origin    string
}

// LatestCheckpoint returns the newest signed checkpoint.
func (s *Review) LatestCheckpoint(ctx context.Context, a Access) (CheckpointInfo, error) {
	if err := s.mayCheckTrail(ctx, a); err != nil {
		return CheckpointInfo{}, err
	}
	return s.latestCheckpoint(ctx)
}

// latestCheckpoint reads and opens the newest signed checkpoint; not found if none was signed yet.
func (s *Review) latestCheckpoint(ctx context.Context) (CheckpointInfo, error) {
	sc, err := s.trail.LatestCheckpoint(ctx)
	if errors.Is(err, audit.ErrNoCheckpoint) {
		return CheckpointInfo{}, Errorf(CodeNotFound, "no checkpoint has been signed yet")
	}
	if err != nil {
		return CheckpointInfo{}, internalErr("read checkpoint", err)
	}
	c, err := audit.OpenCheckpoint(sc.Note, s.signer.Verifier())
	if err != nil {
		return CheckpointInfo{}, internalErr("open checkpoint", err)
	}
	return CheckpointInfo{Size: c.Size, RootHash: audit.HexHash(c.Root), Note: string(sc.Note),
		KeyID: s.signer.KeyID(), PublicKey: s.signer.VerifierKey(), Origin: c.Origin}, nil
}

// signedCheckpoint returns the signed checkpoint of the given size; not found if none was signed.
func (s *Review) signedCheckpoint(ctx context.Context, size int64) (CheckpointInfo, error) {
	signed, err := s.trail.Checkpoints(ctx)
	if err != nil {
		return CheckpointInfo{}, internalErr("read checkpoints", err)
	}
	for _, sc := range signed {
		if sc.Size != size {
			continue
		}
		c, err := audit.OpenCheckpoint(sc.Note, s.signer.Verifier())
		if err != nil {
			return CheckpointInfo{}, internalErr("open checkpoint", err)
		}
		return CheckpointInfo{Size: c.Size, RootHash: audit.HexHash(c.Root), Note: string(sc.Note),
			KeyID: s.signer.KeyID(), PublicKey: s.signer.VerifierKey(), Origin: c.Origin}, nil
	}
	return CheckpointInfo{}, Errorf(CodeNotFound, "no checkpoint of that size was signed")
}

// InclusionProof proves that entry seq is in the tree of a signed checkpoint.
type InclusionProof struct {
	Seq       int64
	LeafIndex int64
	TreeSize  int64
	RootHash  string
	Entry     string // canonical bytes, base64
	Hashes    []string
	AuditSeq  int64 // the entry recording this read
}

// Proof returns an RFC 6962 inclusion proof of entry seq against the newest checkpoint, or against the
// signed checkpoint of size treeSize (one an auditor kept); the auditor checks it with the entry bytes and
// that checkpoint (tlog.CheckRecord), without trusting the server. The proof carries the entry, so it is an
// audit read like an entry bundle: compliance officers only (not witnesses, who see checkpoints and hash
// tiles alone), recorded. The route takes no purpose; it implies PurposeComplianceAudit.
func (s *Review) Proof(ctx context.Context, a Access, seq, treeSize int64) (InclusionProof, error) {
	a.Purpose = PurposeComplianceAudit
	_, e, err := s.mayReadTrail(ctx, a, ActionAuditRead, "")
	if err != nil {
		return InclusionProof{}, err
	}
	cp, err := s.latestCheckpoint(ctx)
	if err != nil {
		return InclusionProof{}, err
	}
	if treeSize != 0 && treeSize != cp.Size {
		if cp, err = s.signedCheckpoint(ctx, treeSize); err != nil {
			return InclusionProof{}, err
		}
	}
	if seq < 1 || seq > cp.Size {
		return InclusionProof{}, Errorf(CodeNotFound, "entry not covered by the checkpoint (size %d)", cp.Size)
	}
	canon, err := s.trail.Leaf(ctx, seq)
	if err != nil {
		return InclusionProof{}, internalErr("read entry", err)
	}
	p, err := tlog.ProveRecord(cp.Size, seq-1, s.trail)
	if err != nil {
		return InclusionProof{}, internalErr("prove entry", err)
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "proof:"+strconv.FormatInt(seq, 10)
	read, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return InclusionProof{}, internalErr("audit the proof read", err)
	}
	out := InclusionProof{Seq: seq, LeafIndex: seq - 1, TreeSize: cp.Size, RootHash: cp.RootHash,
		Entry: base64.StdEncoding.EncodeToString(canon), Hashes: make([]string, len(p)), AuditSeq: read}
	for i, h := range p {
		out.Hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out, nil
}

// ActionAuditReport records the production of a report from the trail.
const ActionAuditReport Action = "audit.report"

// RecipientVolume is how many distinct individuals' data one recipient received in a year, and how many of
// them with sensitive categories.
type RecipientVolume struct {
	Recipient            string
	Country              string
	TransferMechanism    string
	Individuals          int
	SensitiveIndividuals int
}

// CrossBorderReport is the yearly volume of personal information provided abroad, per recipient (PIPL
// Art. 38-40 and the CAC rules on outbound data: thresholds count distinct individuals, and sensitive ones
// apart), counted from the trail's allowed releases to recipients outside China.
type CrossBorderReport struct {
	Year       int
	Recipients []RecipientVolume
	AuditSeq   int64
}

// CrossBorderReport counts, for year, the distinct subjects whose data each recipient abroad received
// (compliance officers; recorded). Subjects are counted by their audit pseudonym, so erased subjects still
// count and nobody's identity is needed.
func (s *Review) CrossBorderReport(ctx context.Context, a Access, year int) (CrossBorderReport, error) {
	pol, e, err := s.mayReadTrail(ctx, a, ActionAuditReport, "")
	if err != nil {
		return CrossBorderReport{}, err
	}
	if year < 2000 || year > 9999 {
		return CrossBorderReport{}, s.refuseInvalid(ctx, a, ActionAuditReport, "", Errorf(CodeInvalidArgument, "year must be a four-digit year"))
	}
	cat := pol.Purposes()
	since := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]map[string]bool{}           // recipient → subject refs
	sensitive := map[string]map[string]bool{}      // recipient → subject refs with sensitive categories
	parties := map[string]policies.RecipientInfo{} // recipient → as the catalog of its latest transfer (or today's) names it
	// Every recipient and processor abroad the catalog names is in the report, with 0 when it received
	// nothing that year: "no transfers" must not read like "no recipients".
	abroad := func(c *policies.Catalog, r string) (policies.RecipientInfo, bool) {
		info, ok := c.Party(r)
		return info, ok && !strings.EqualFold(info.Country, "CN")
	}
	for _, r := range cat.PartyNames() {
		if info, ok := abroad(cat, r); ok {
			seen[r], parties[r] = map[string]bool{}, info
		}
	}
	versions := map[string]*policies.Set{}
	err = s.trail.Export(ctx, since, since.AddDate(1, 0, 0), func(_ int64, canonical []byte) error {
		var x audit.Entry
		if err := json.Unmarshal(canonical, &x); err != nil {
			return err
		}
		if x.Recipient == "" || x.SubjectRef == "" || x.Decision == audit.Deny {
			return nil
		}
		// Abroad by the catalog the access was decided under: a recipient since removed from the catalog
		// still received what it received (it fell out of the report, and with it out of the thresholds).
		at := s.policyOf(ctx, x.PolicyHash, versions)
		info, ok := abroad(at.Purposes(), x.Recipient)
		if !ok {
			return nil
		}
		if _, named := parties[x.Recipient]; !named || at == pol {
			parties[x.Recipient] = info
		}
		add := func(m map[string]map[string]bool) {
			if m[x.Recipient] == nil {
				m[x.Recipient] = map[string]bool{}
			}
			m[x.Recipient][x.SubjectRef] = true
		}
		add(seen)
		// Sensitive by what was released: fields granted, or categories of an entry that names no field
		// (events, tags); a read that asked for sensitive fields and was refused them provided none.
		if released := releasedCategories(at.Schema(), x); slices.ContainsFunc(released, policies.IsSensitiveCategory) {
			add(sensitive)
		}
		return nil
	})
	if err != nil {
		return CrossBorderReport{}, internalErr("read trail", err)
	}
	rep := CrossBorderReport{Year: year, Recipients: []RecipientVolume{}}
	for _, r := range slices.Sorted(maps.Keys(seen)) {
		info := parties[r]
		rep.Recipients = append(rep.Recipients, RecipientVolume{Recipient: r, Country: info.Country, TransferMechanism: info.TransferMechanism,
			Individuals: len(seen[r]), SensitiveIndividuals: len(sensitive[r])})
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "report:cross_border year:"+strconv.Itoa(year)
	if rep.AuditSeq, err = s.seq.Commit(ctx, nil, func(error) audit.Entry { return e }); err != nil {
		return CrossBorderReport{}, internalErr("audit report", err)
	}
	return rep, nil
}

// latestChange returns the sequence number of the newest allowed entry of one of actions about the subject
// of rec at or after since (0 if none): the change that fulfilled a request.
func (s *Review) latestChange(ctx context.Context, rec SubjectRecord, since time.Time, actions ...Action) (int64, error) {
	var latest int64
	for _, act := range actions {
		entries, err := s.trail.Query(ctx, audit.Filter{SubjectRef: refFor(s.gate, rec.ID, rec.RefSalt), Action: string(act), Decision: audit.Allow, Since: since, Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(entries) > 0 && entries[0].Seq > latest {
			latest = entries[0].Seq
		}
	}
	return latest, nil
}

// requestCreated returns the sequence number of the entry that filed request r (its reason names the
// request id).
func (s *Review) requestCreated(ctx context.Context, rec SubjectRecord, r RequestRow) (int64, error) {
	entries, err := s.trail.Query(ctx, audit.Filter{SubjectRef: refFor(s.gate, rec.ID, rec.RefSalt), Action: string(ActionRequestCreate),
		Decision: audit.Allow, Since: r.CreatedAt.Add(-time.Minute), Limit: maxAuditPage})
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Reason, "request:"+r.ID+" ") {
			return e.Seq, nil
		}
	}
	return 0, errors.New("the request's entry is not in the trail")
}
