package vault

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
)

// The audit log as a C2SP tlog-tiles log, for off-the-shelf verifiers: the latest signed checkpoint, hash
// tiles of height 8 read from the stored Merkle tree, and entry bundles. Tiles and checkpoints hold no
// personal data (role admin, compliance_officer or witness; only a refusal is recorded, or a witness
// polling would fill the trail); entry bundles are the entries themselves (compliance officers, recorded).

// TileHeight is the height of the log's tiles (C2SP tlog-tiles).
const TileHeight = 8

const tileWidth = 1 << TileHeight

// SignedCheckpoint returns the newest signed checkpoint note (a C2SP checkpoint).
func (s *Review) SignedCheckpoint(ctx context.Context, a Access) ([]byte, error) {
	if err := s.mayReadTiles(ctx, a); err != nil {
		return nil, err
	}
	sc, err := s.trail.LatestCheckpoint(ctx)
	if errors.Is(err, audit.ErrNoCheckpoint) {
		return nil, Errorf(CodeNotFound, "no checkpoint has been signed yet")
	}
	if err != nil {
		return nil, internalErr("read checkpoint", err)
	}
	return sc.Note, nil
}

// HashTile returns the hash tile at level and index of the tree of the newest checkpoint: width hashes
// (0 for a full tile of 256). A tile the checkpoint does not cover exactly is not found.
func (s *Review) HashTile(ctx context.Context, a Access, level, index int64, width int) ([]byte, error) {
	if err := s.mayReadTiles(ctx, a); err != nil {
		return nil, err
	}
	size, err := s.checkpointSize(ctx)
	if err != nil {
		return nil, err
	}
	w, err := coveredWidth(size, level, index, width)
	if err != nil {
		return nil, err
	}
	data, err := tlog.ReadTileData(tlog.Tile{H: TileHeight, L: int(level), N: index, W: w}, s.trail)
	if err != nil {
		return nil, internalErr("read hash tile", err)
	}
	return data, nil
}

// PurposeComplianceAudit is the purpose of reading the audit trail.
const PurposeComplianceAudit = policies.PurposeComplianceAudit

// EntryBundle returns the entries of data tile index (width entries, 0 for 256) of the newest checkpoint's
// tree, each as a big-endian uint16 length and the entry's canonical bytes (C2SP tlog-tiles). Compliance
// officers only (purpose compliance_audit); the read is recorded. A tlog-tiles client declares no purpose,
// so none implies PurposeComplianceAudit: reading entries is an audit.
func (s *Review) EntryBundle(ctx context.Context, a Access, index int64, width int) ([]byte, int64, error) {
	if a.Purpose == "" {
		a.Purpose = PurposeComplianceAudit
	}
	_, e, err := s.mayReadTrail(ctx, a, ActionAuditRead, "")
	if err != nil {
		return nil, 0, err
	}
	size, err := s.checkpointSize(ctx)
	if err != nil {
		return nil, 0, err
	}
	w, err := coveredWidth(size, 0, index, width)
	if err != nil {
		return nil, 0, err
	}
	e.Decision, e.Status, e.Reason = audit.Allow, statusOK, "entry_bundle:"+strconv.FormatInt(index, 10)+" entries:"+strconv.Itoa(w)
	seq, err := s.seq.Commit(ctx, nil, func(error) audit.Entry { return e })
	if err != nil {
		return nil, 0, internalErr("audit entry bundle read", err)
	}
	var out []byte
	for k := range w {
		canon, err := s.trail.Leaf(ctx, index*tileWidth+int64(k)+1)
		if err != nil {
			return nil, 0, internalErr("read entry", err)
		}
		if len(canon) > 0xffff {
			return nil, 0, internalErr("entry bundle", errors.New("entry longer than 65535 bytes"))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(canon)))
		out = append(out, canon...)
	}
	return out, seq, nil
}

// mayReadTiles refuses (recorded) roles that may not verify the trail; witnesses may.
func (s *Review) mayReadTiles(ctx context.Context, a Access) error {
	pol := s.Policy()
	if pol.Allowed(a.Caller.Roles, policies.NoPurpose, policies.ResourceAudit, policies.ActVerify) {
		return nil
	}
	e := s.newEntry(ctx, a, pol, ActionAuditVerify, "")
	return s.deny(ctx, e, statusForbidden, reasonNoPolicy, Errorf(CodePermissionDenied, "your roles may not read the log's tiles"))
}

func (s *Review) checkpointSize(ctx context.Context) (int64, error) {
	sc, err := s.trail.LatestCheckpoint(ctx)
	if errors.Is(err, audit.ErrNoCheckpoint) {
		return 0, Errorf(CodeNotFound, "no checkpoint has been signed yet")
	}
	if err != nil {
		return 0, internalErr("read checkpoint", err)
	}
	return sc.Size, nil
}

// coveredWidth checks that tile (level, index, width) exists in the tree of size leaves (or, partial, in a
// smaller one) and returns its width in hashes (256 for a full tile).
func coveredWidth(size, level, index int64, width int) (int, error) {
	if level < 0 || level > 6 || index < 0 || width < 0 || width >= tileWidth {
		return 0, Errorf(CodeNotFound, "no such tile")
	}
	n := size >> (TileHeight * level) // hashes at this level
	switch {
	case width == 0 && (index+1)*tileWidth <= n:
		return tileWidth, nil
	case width > 0 && index*tileWidth+int64(width) <= n:
		// A partial tile of an older, smaller tree: its hashes never change once stored, so a verifier
		// holding an older checkpoint still gets the tile it asks for.
		return width, nil
	}
	return 0, Errorf(CodeNotFound, "no such tile in the tree of the latest checkpoint")
}

// ConsistencyProof is the RFC 6962 proof that the tree of size To extends the tree of size From.
type ConsistencyProof struct {
	From, To int64
	Hashes   []tlog.Hash
}

// Consistency proves that the log's tree of size to extends its tree of size from; both sizes must be
// signed checkpoints' sizes, so that a holder of either checkpoint can check the proof (tlog.CheckTree).
func (s *Review) Consistency(ctx context.Context, a Access, from, to int64) (ConsistencyProof, error) {
	if err := s.mayCheckTrail(ctx, a); err != nil {
		return ConsistencyProof{}, err
	}
	if from < 1 || from > to {
		return ConsistencyProof{}, s.refuseInvalid(ctx, a, ActionAuditVerify, "", Errorf(CodeInvalidArgument, "want 1 <= from <= to"))
	}
	signed, err := s.trail.Checkpoints(ctx)
	if err != nil {
		return ConsistencyProof{}, internalErr("read checkpoints", err)
	}
	var haveFrom, haveTo bool
	for _, c := range signed {
		haveFrom, haveTo = haveFrom || c.Size == from, haveTo || c.Size == to
	}
	if !haveFrom || !haveTo {
		return ConsistencyProof{}, Errorf(CodeNotFound, "from and to must both be sizes of signed checkpoints")
	}
	p, err := tlog.ProveTree(to, from, s.trail)
	if err != nil {
		return ConsistencyProof{}, internalErr("prove consistency", err)
	}
	return ConsistencyProof{From: from, To: to, Hashes: p}, nil
}
