package httpapi

import (
	"strings"
	"time"

	"github.com/profilevault/profilevault/internal/ingest"
	"github.com/profilevault/profilevault/vault"
)

// The wire format of the API's responses (API.md): one DTO per domain type, built by a named converter, so
// that the domain carries no JSON tags and nothing reaches a client that a DTO does not name.
// dto_test.go checks every DTO's encoding against a golden file.

// dtosOrEmpty is dtos with nil as [] too: for lists API.md shows as arrays, which a client iterates.
func dtosOrEmpty[T, D any](in []T, conv func(T) D) []D {
	if in == nil {
		return []D{}
	}
	return dtos(in, conv)
}

// dtos converts a slice, keeping nil as nil (JSON null) and empty as empty ([]).
func dtos[T, D any](in []T, conv func(T) D) []D {
	if in == nil {
		return nil
	}
	out := make([]D, len(in))
	for i, x := range in {
		out[i] = conv(x)
	}
	return out
}

// dtoPtr converts an optional value.
func dtoPtr[T, D any](in *T, conv func(T) D) *D {
	if in == nil {
		return nil
	}
	d := conv(*in)
	return &d
}

// consentViewDTO is the wire form of vault.ConsentView.
type consentViewDTO struct {
	ID            string     `json:"id"`
	Action        string     `json:"action,omitempty"`
	Purpose       string     `json:"purpose"`
	Status        string     `json:"status"`
	Kind          string     `json:"kind"`
	NoticeVersion string     `json:"notice_version"`
	Method        string     `json:"method"`
	Evidence      string     `json:"evidence"`
	Recipient     *string    `json:"recipient"`
	GrantedAt     *time.Time `json:"granted_at"`
	WithdrawnAt   *time.Time `json:"withdrawn_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RecordedBy    string     `json:"recorded_by"`
	Withdraws     string     `json:"withdraws,omitempty"`
	// Channels: the channels of commercial messages a live marketing consent covers now; in a history, the
	// channels the event named (a grant its channels, a withdrawal those it withdrew).
	Channels []string `json:"channels,omitempty"`
}

func toConsentViewDTO(x vault.ConsentView) consentViewDTO {
	return consentViewDTO{
		ID:            x.ID,
		Action:        x.Action,
		Purpose:       string(x.Purpose),
		Status:        x.Status,
		Kind:          x.Kind,
		NoticeVersion: x.NoticeVersion,
		Method:        x.Method,
		Evidence:      x.Evidence,
		Recipient:     x.Recipient,
		GrantedAt:     x.GrantedAt,
		WithdrawnAt:   x.WithdrawnAt,
		ExpiresAt:     x.ExpiresAt,
		RecordedBy:    x.RecordedBy,
		Withdraws:     x.Withdraws,
		Channels:      x.Channels,
	}
}

// eventRejectionDTO is the wire form of vault.EventRejection: the stable code alone in error (API.md), the
// attribute or field it concerns, when there is one, beside it ("bad_attrs:items" → bad_attrs, items).
type eventRejectionDTO struct {
	Index int    `json:"index"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func toEventRejectionDTO(x vault.EventRejection) eventRejectionDTO {
	code, field, _ := strings.Cut(x.Error, ":")
	return eventRejectionDTO{
		Index: x.Index,
		Error: code,
		Field: field,
	}
}

// ingestResultDTO is the wire form of vault.IngestResult.
type ingestResultDTO struct {
	Accepted   int                 `json:"accepted"`
	Duplicates int                 `json:"duplicates"`
	Rejected   []eventRejectionDTO `json:"rejected"`
}

func toIngestResultDTO(x vault.IngestResult) ingestResultDTO {
	return ingestResultDTO{
		Accepted:   x.Accepted,
		Duplicates: x.Duplicates,
		Rejected:   dtos(x.Rejected, toEventRejectionDTO),
	}
}

// eventViewDTO is the wire form of vault.EventView.
type eventViewDTO struct {
	ID       string         `json:"event_id"`
	Type     string         `json:"type"`
	Category string         `json:"category"`
	TS       time.Time      `json:"ts"`
	Source   string         `json:"source"`
	Attrs    map[string]any `json:"attrs"`
}

func toEventViewDTO(x vault.EventView) eventViewDTO {
	return eventViewDTO{
		ID:       x.ID,
		Type:     x.Type,
		Category: x.Category,
		TS:       x.TS,
		Source:   x.Source,
		Attrs:    x.Attrs,
	}
}

// mergeRowDTO is the wire form of vault.MergeRow.
type mergeRowDTO struct {
	ID                string     `json:"id"`
	SubjectID         string     `json:"subject_id"`
	Source            string     `json:"source"`
	MatchedOn         string     `json:"matched_on"`
	FieldsAdded       []string   `json:"fields_added"`
	CreatedAt         time.Time  `json:"created_at"`
	RevertedAt        *time.Time `json:"reverted_at,omitempty"`
	RestoredSubjectID string     `json:"restored_subject_id,omitempty"`
}

func toMergeRowDTO(x vault.MergeRow) mergeRowDTO {
	return mergeRowDTO{
		ID:                x.ID,
		SubjectID:         x.SubjectID,
		Source:            x.Source,
		MatchedOn:         x.MatchedOn,
		FieldsAdded:       x.FieldsAdded,
		CreatedAt:         x.CreatedAt,
		RevertedAt:        x.RevertedAt,
		RestoredSubjectID: x.RestoredSubjectID,
	}
}

// reviewRowDTO is the wire form of vault.ReviewRow.
type reviewRowDTO struct {
	ID        string     `json:"id"`
	SubjectA  string     `json:"subject_a"`
	SubjectB  string     `json:"subject_b"`
	Reason    string     `json:"reason"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

func toReviewRowDTO(x vault.ReviewRow) reviewRowDTO {
	return reviewRowDTO{
		ID:        x.ID,
		SubjectA:  x.SubjectA,
		SubjectB:  x.SubjectB,
		Reason:    x.Reason,
		State:     x.State,
		CreatedAt: x.CreatedAt,
		DecidedAt: x.DecidedAt,
	}
}

// importReportDTO is the wire form of vault.ImportReport.
// The counts API.md names (accepted, duplicates, standardised, anomalies, imputed, merged, review_queued,
// rejected per reason) are read back from the stored lines and sit at the top level beside them.
type importReportDTO struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Lines     []string  `json:"lines"`
	*importCountsDTO
}

type importCountsDTO struct {
	Accepted     int            `json:"accepted"`
	Duplicates   int            `json:"duplicates"`
	Standardised int            `json:"standardised"`
	Anomalies    int            `json:"anomalies"`
	Imputed      int            `json:"imputed"`
	Merged       int            `json:"merged"`
	ReviewQueued int            `json:"review_queued"`
	Rejected     map[string]int `json:"rejected"`
	Details      map[string]int `json:"details,omitempty"`
}

func toImportReportDTO(x vault.ImportReport) importReportDTO {
	out := importReportDTO{ID: x.ID, CreatedAt: x.CreatedAt, Lines: x.Lines}
	if r, err := ingest.ParseLines(x.Lines); err == nil { // a report in another form keeps its lines only
		out.importCountsDTO = &importCountsDTO{Accepted: r.Accepted, Duplicates: r.Duplicates, Standardised: r.Standardised, Anomalies: r.Anomalies,
			Imputed: r.Imputed, Merged: r.Merged, ReviewQueued: r.ReviewQueued, Rejected: r.Rejected, Details: r.Details}
	}
	return out
}

// kEKUseDTO is the wire form of vault.KEKUse.
type kEKUseDTO struct {
	Version uint32 `json:"version"`
	DEKs    int    `json:"deks"`
	Missing int    `json:"missing"`
	Corrupt int    `json:"corrupt"`
}

func toKEKUseDTO(x vault.KEKUse) kEKUseDTO {
	return kEKUseDTO{
		Version: x.Version,
		DEKs:    x.DEKs,
		Missing: x.Missing,
		Corrupt: x.Corrupt,
	}
}

// keyReportDTO is the wire form of vault.KeyReport.
type keyReportDTO struct {
	CheckedAt time.Time     `json:"checked_at"`
	DEKs      int           `json:"deks"`
	Subjects  int           `json:"subjects"`
	ByVersion []kEKUseDTO   `json:"by_kek_version"`
	KEKs      []kEKStateDTO `json:"keks"`
	Missing   int           `json:"missing"`
	Corrupt   int           `json:"corrupt"`
	Affected  int           `json:"affected_subjects"`
}

func toKeyReportDTO(x vault.KeyReport) keyReportDTO {
	return keyReportDTO{
		CheckedAt: x.CheckedAt,
		DEKs:      x.DEKs,
		Subjects:  x.Subjects,
		ByVersion: dtos(x.ByVersion, toKEKUseDTO),
		KEKs:      dtos(x.KEKs, toKEKStateDTO),
		Missing:   x.Missing,
		Corrupt:   x.Corrupt,
		Affected:  x.Affected,
	}
}

// keyStatusDTO is the wire form of vault.KeyStatus.
type keyStatusDTO struct {
	ActiveVersion  uint32        `json:"active_version"`
	KEKs           []kEKStateDTO `json:"keks"`
	Check          *keyReportDTO `json:"check,omitempty"`
	LatestRotation *jobStatusDTO `json:"latest_rotation,omitempty"`
	AuditSeq       int64         `json:"audit_seq"`
}

func toKeyStatusDTO(x vault.KeyStatus) keyStatusDTO {
	return keyStatusDTO{
		ActiveVersion:  x.ActiveVersion,
		KEKs:           dtos(x.KEKs, toKEKStateDTO),
		Check:          dtoPtr(x.Check, toKeyReportDTO),
		LatestRotation: dtoPtr(x.LatestRotation, toJobStatusDTO),
		AuditSeq:       x.AuditSeq,
	}
}

// kEKStateDTO is the wire form of vault.KEKState.
type kEKStateDTO struct {
	Version   uint32     `json:"version"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
	PurgedAt  *time.Time `json:"purged_at,omitempty"`
}

func toKEKStateDTO(x vault.KEKState) kEKStateDTO {
	return kEKStateDTO{
		Version:   x.Version,
		Active:    x.Active,
		CreatedAt: x.CreatedAt,
		RetiredAt: x.RetiredAt,
		PurgedAt:  x.PurgedAt,
	}
}

// rotationResultDTO is the wire form of vault.RotationResult.
type rotationResultDTO struct {
	JobID      string   `json:"job_id"`
	NewVersion uint32   `json:"new_version"`
	Resumed    bool     `json:"resumed"`
	Rewrapped  int      `json:"rewrapped"`
	Retired    []uint32 `json:"retired"`
	Kept       []uint32 `json:"kept,omitempty"`
	AuditSeq   int64    `json:"audit_seq"`
}

func toRotationResultDTO(x vault.RotationResult) rotationResultDTO {
	return rotationResultDTO{
		JobID:      x.JobID,
		NewVersion: x.NewVersion,
		Resumed:    x.Resumed,
		Rewrapped:  x.Rewrapped,
		Retired:    x.Retired,
		Kept:       x.Kept,
		AuditSeq:   x.AuditSeq,
	}
}

// jobStatusDTO is the wire form of vault.JobStatus.
type jobStatusDTO struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	Done       int        `json:"done"`
	Total      int        `json:"total"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	NewVersion uint32     `json:"new_version,omitempty"`
	Retired    []uint32   `json:"retired,omitempty"`
	Error      string     `json:"error,omitempty"`
}

func toJobStatusDTO(x vault.JobStatus) jobStatusDTO {
	return jobStatusDTO{
		ID:         x.ID,
		Kind:       x.Kind,
		State:      x.State,
		Done:       x.Done,
		Total:      x.Total,
		StartedAt:  x.StartedAt,
		FinishedAt: x.FinishedAt,
		NewVersion: x.NewVersion,
		Retired:    x.Retired,
		Error:      x.Error,
	}
}

// meConsentResultDTO is the wire form of vault.MeConsentResult.
// The record's own keys are also at the top level: API.md answers PUT /v1/me/consents/{purpose} "with the
// record"; "record" and "withdrawn" stay as the release before had them.
type meConsentResultDTO struct {
	*consentViewDTO
	Record    *consentViewDTO  `json:"record"`
	Withdrawn []consentViewDTO `json:"withdrawn,omitempty"`
}

func toMeConsentResultDTO(x vault.MeConsentResult) meConsentResultDTO {
	rec := dtoPtr(x.Record, toConsentViewDTO)
	return meConsentResultDTO{
		consentViewDTO: rec,
		Record:         rec,
		Withdrawn:      dtos(x.Withdrawn, toConsentViewDTO),
	}
}

// accessLogEntryDTO is the wire form of vault.AccessLogEntry.
type accessLogEntryDTO struct {
	TS         time.Time `json:"ts"`
	ActorRoles []string  `json:"actor_roles"`
	Team       string    `json:"team"` // API.md names the key; "" for a token without a team
	Purpose    string    `json:"purpose"`
	Action     string    `json:"action"`
	Fields     []string  `json:"fields"`
	Categories []string  `json:"categories"`
	Decision   string    `json:"decision"`
	// UnderRequest: made under an approved access request, for the reason category given.
	UnderRequest   bool   `json:"under_request,omitempty"`
	ReasonCategory string `json:"reason_category,omitempty"`
}

func toAccessLogEntryDTO(x vault.AccessLogEntry) accessLogEntryDTO {
	return accessLogEntryDTO{
		TS:             x.TS,
		ActorRoles:     x.ActorRoles,
		Team:           x.Team,
		Purpose:        x.Purpose,
		Action:         x.Action,
		Fields:         x.Fields,
		Categories:     x.Categories,
		Decision:       x.Decision,
		UnderRequest:   x.UnderRequest,
		ReasonCategory: x.RequestReason,
	}
}

// purposeExplanationDTO is the wire form of vault.PurposeExplanation.
type purposeExplanationDTO struct {
	Purpose       string   `json:"purpose"`
	Description   string   `json:"description"`
	LegalBasis    string   `json:"legal_basis"`
	ConsentKind   string   `json:"consent_kind,omitempty"`
	Categories    []string `json:"categories"`
	RetentionDays int      `json:"retention_days"`
	Necessary     bool     `json:"necessary"`
	Recipients    []string `json:"recipients"`
	NoticeVersion string   `json:"notice_version"`
	Method        string   `json:"method"` // how the data are processed (PIPL Art. 17), as GET /v1/notice says
	YourConsent   string   `json:"your_consent,omitempty"`
	Objected      bool     `json:"objected"`
	Restricted    bool     `json:"restricted"`
	Why           string   `json:"why"`
	// ConsentBlocked: guardian_consent_required or age_verification_required when the subject cannot give
	// this consent themselves.
	ConsentBlocked string `json:"consent_blocked,omitempty"`
}

// toPurposeExplanationDTO renders x for a reader of lang (zh or en).
func toPurposeExplanationDTO(x vault.PurposeExplanation, lang string) purposeExplanationDTO {
	return purposeExplanationDTO{
		Purpose:        string(x.Purpose),
		Description:    x.Description,
		LegalBasis:     x.LegalBasis,
		ConsentKind:    x.ConsentKind,
		Categories:     x.Categories,
		RetentionDays:  x.RetentionDays,
		Necessary:      x.Necessary,
		Recipients:     x.Recipients,
		NoticeVersion:  x.NoticeVersion,
		YourConsent:    x.YourConsent,
		Objected:       x.Objected,
		Restricted:     x.Restricted,
		Why:            whyText(x, lang),
		ConsentBlocked: x.ConsentBlocked,
	}
}

// exportDTO is the wire form of vault.Export.
type exportDTO struct {
	SubjectID      string              `json:"subject_id"`
	ExportedAt     time.Time           `json:"exported_at"`
	Profile        map[string]string   `json:"profile"`
	Consents       []consentViewDTO    `json:"consents"`
	ConsentHistory []consentViewDTO    `json:"consent_history"`
	Objections     []string            `json:"objections"`
	Events         []eventViewDTO      `json:"events"`
	Tags           []tagViewDTO        `json:"tags"`
	AccessLog      []accessLogEntryDTO `json:"access_log"`
	Requests       []requestViewDTO    `json:"requests"`
}

func toExportDTO(x vault.Export) exportDTO {
	return exportDTO{
		SubjectID:      x.SubjectID,
		ExportedAt:     x.ExportedAt,
		Profile:        x.Profile,
		Consents:       dtos(x.Consents, toConsentViewDTO),
		ConsentHistory: dtos(x.ConsentHistory, toConsentViewDTO),
		Objections:     x.Objections,
		Events:         dtos(x.Events, toEventViewDTO),
		Tags:           dtos(x.Tags, toTagViewDTO),
		AccessLog:      dtos(x.AccessLog, toAccessLogEntryDTO),
		Requests:       dtos(x.Requests, toRequestViewDTO),
	}
}

// requestViewDTO is the wire form of vault.RequestView.
type requestViewDTO struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	DueAt     time.Time `json:"due_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Overdue   bool      `json:"overdue"`
	Reason    string    `json:"reason,omitempty"`
	Note      string    `json:"note,omitempty"`
	// Relationship is a deceased subject's relative's, for a deceased_relative request.
	Relationship string `json:"relationship,omitempty"`
	// AnswerRoute names the route where the subject can fetch the answer to the request themselves.
	AnswerRoute string `json:"answer_route,omitempty"`
}

// answerRoutes maps a request type to the route that answers it once the request is completed.
var answerRoutes = map[string]string{
	"access":      "GET /v1/me/export",
	"portability": "GET /v1/me/export?format=zip",
	"explanation": "GET /v1/me/explanation",
}

func toRequestViewDTO(x vault.RequestView) requestViewDTO {
	answer := answerRoutes[x.Type] // where the subject can fetch the answer themselves, whatever the state
	return requestViewDTO{
		ID:           x.ID,
		Type:         x.Type,
		State:        x.State,
		CreatedAt:    x.CreatedAt,
		DueAt:        x.DueAt,
		UpdatedAt:    x.UpdatedAt,
		Overdue:      x.Overdue,
		Reason:       x.Reason,
		Note:         x.Note,
		Relationship: x.Relationship,
		AnswerRoute:  answer,
	}
}

// queueItemDTO is the wire form of vault.QueueItem.
type queueItemDTO struct {
	requestViewDTO
	SubjectRef string `json:"subject_ref"`
}

func toQueueItemDTO(x vault.QueueItem) queueItemDTO {
	return queueItemDTO{
		requestViewDTO: toRequestViewDTO(x.RequestView),
		SubjectRef:     x.SubjectRef,
	}
}

// revertResultDTO is the wire form of vault.RevertResult.
type revertResultDTO struct {
	MergeID           string   `json:"merge_id"`
	SubjectID         string   `json:"subject_id"`
	RestoredSubjectID string   `json:"restored_subject_id"`
	FieldsMoved       []string `json:"fields_moved"`
}

func toRevertResultDTO(x vault.RevertResult) revertResultDTO {
	return revertResultDTO{
		MergeID:           x.MergeID,
		SubjectID:         x.SubjectID,
		RestoredSubjectID: x.RestoredSubjectID,
		FieldsMoved:       x.FieldsMoved,
	}
}

// withheldDTO is the wire form of vault.Withheld.
type withheldDTO struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func toWithheldDTO(x vault.Withheld) withheldDTO {
	return withheldDTO{
		Field:  x.Field,
		Reason: x.Reason,
	}
}

// receiptDTO is the wire form of vault.Receipt.
type receiptDTO struct {
	SubjectID       string    `json:"subject_id"`
	SubjectRef      string    `json:"subject_ref"`
	ErasedAt        time.Time `json:"erased_at"`
	ClassesShredded []string  `json:"classes_shredded"`
	AuditSeq        int64     `json:"audit_seq"`
	Held            []holdDTO `json:"held,omitempty"`
	Signature       string    `json:"signature"`
}

func toReceiptDTO(x vault.Receipt) receiptDTO {
	return receiptDTO{
		SubjectID:       x.SubjectID,
		SubjectRef:      x.SubjectRef,
		ErasedAt:        x.ErasedAt,
		ClassesShredded: x.ClassesShredded,
		AuditSeq:        x.AuditSeq,
		Held:            dtos(x.Held, toHoldDTO),
		Signature:       x.Signature,
	}
}

// holdDTO is the wire form of vault.Hold.
type holdDTO struct {
	Category string    `json:"category"`
	Until    time.Time `json:"until"`
}

func toHoldDTO(x vault.Hold) holdDTO {
	return holdDTO{
		Category: x.Category,
		Until:    x.Until,
	}
}

// tagViewDTO is the wire form of vault.TagView.
type tagViewDTO struct {
	Key           string    `json:"key"`
	Level         string    `json:"level"`
	Purpose       string    `json:"purpose"`
	Value         string    `json:"value"`
	ComputedAt    time.Time `json:"computed_at"`
	Inputs        []string  `json:"inputs"`
	ConsentIDs    []string  `json:"consent_ids"`
	Explanation   string    `json:"explanation"`
	Algorithm     string    `json:"algorithm_version"`
	ExplanationZH string    `json:"explanation_zh"`
	ExplanationEN string    `json:"explanation_en"`
}

func toTagViewDTO(x vault.TagView) tagViewDTO {
	return tagViewDTO{
		Key:           x.Key,
		Level:         x.Level,
		Purpose:       string(x.Purpose),
		Value:         x.Value,
		ComputedAt:    x.ComputedAt,
		Inputs:        x.Inputs,
		ConsentIDs:    x.ConsentIDs,
		Explanation:   x.Explanation,
		Algorithm:     x.Algorithm,
		ExplanationZH: x.ExplanationZH,
		ExplanationEN: x.ExplanationEN,
	}
}

// tagsResultDTO is the wire form of vault.TagsResult.
type tagsResultDTO struct {
	Tags     []tagViewDTO  `json:"tags"`
	Withheld []withheldDTO `json:"withheld"`
}

func toTagsResultDTO(x vault.TagsResult) tagsResultDTO {
	return tagsResultDTO{
		Tags:     dtos(x.Tags, toTagViewDTO),
		Withheld: dtos(x.Withheld, toWithheldDTO),
	}
}

// checkpointInfoDTO is the wire form of vault.CheckpointInfo.
type checkpointInfoDTO struct {
	Size      int64  `json:"size"`
	RootHash  string `json:"root_hash"`
	Note      string `json:"note"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Origin    string `json:"origin"`
}

func toCheckpointInfoDTO(x vault.CheckpointInfo) checkpointInfoDTO {
	return checkpointInfoDTO{
		Size:      x.Size,
		RootHash:  x.RootHash,
		Note:      x.Note,
		KeyID:     x.KeyID,
		PublicKey: x.PublicKey,
		Origin:    x.Origin,
	}
}

// inclusionProofDTO is the wire form of vault.InclusionProof.
type inclusionProofDTO struct {
	Seq       int64    `json:"seq"`
	LeafIndex int64    `json:"leaf_index"`
	TreeSize  int64    `json:"tree_size"`
	RootHash  string   `json:"root_hash"`
	Entry     string   `json:"entry"`
	Hashes    []string `json:"hashes"`
}

func toInclusionProofDTO(x vault.InclusionProof) inclusionProofDTO {
	return inclusionProofDTO{
		Seq:       x.Seq,
		LeafIndex: x.LeafIndex,
		TreeSize:  x.TreeSize,
		RootHash:  x.RootHash,
		Entry:     x.Entry,
		Hashes:    x.Hashes,
	}
}
