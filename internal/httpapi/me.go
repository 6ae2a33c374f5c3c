package httpapi

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/audit"
	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
)

type meResponse struct {
	ID         string             `json:"id"`
	Fields     map[string]string  `json:"fields"`
	Tags       []tagViewDTO       `json:"tags"`
	Consents   []consentViewDTO   `json:"consents"`
	Objections []string           `json:"objections"`
	Notices    []subjectNoticeDTO `json:"notices"`
}

func (s *Server) getMe(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	m, err := s.vault.DataSubjects().Me(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, m.AuditSeq)
	c.JSON(http.StatusOK, meResponse{ID: m.ID, Fields: m.Fields, Tags: dtosOrEmpty(m.Tags, toTagViewDTO), Consents: dtosOrEmpty(m.Consents, toConsentViewDTO), Objections: m.Objections,
		Notices: dtosOrEmpty(m.Notices, toSubjectNoticeDTO)})
}

func (s *Server) patchMe(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	fields, ok := s.bindFieldsBody(c)
	if !ok {
		return
	}
	v, err := s.vault.DataSubjects().MeUpdate(c.Request.Context(), a, fields)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, v.AuditSeq)
	c.JSON(http.StatusOK, toView(v))
}

func (s *Server) deleteMe(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rec, err := s.vault.DataSubjects().MeErase(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	s.erased(c, rec)
}

type meConsentRequest struct {
	Granted       *bool  `json:"granted"`
	NoticeVersion string `json:"notice_version"`
	Recipient     string `json:"recipient"`
	// Channel, with granted false, withdraws that channel of commercial messages only.
	Channel string `json:"channel"`
}

func (s *Server) putMeConsent(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req meConsentRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Granted == nil {
		s.abortCode(c, vault.CodeInvalidArgument, "granted (true or false) is required")
		return
	}
	var res vault.MeConsentResult
	var err error
	switch {
	case req.Channel != "" && *req.Granted:
		s.abortCode(c, vault.CodeInvalidArgument, "channel names a channel to withdraw (granted false); a grant covers the channels its notice names")
		return
	case req.Channel != "":
		res, err = s.vault.DataSubjects().MeWithdrawChannel(c.Request.Context(), a, policies.PurposeName(c.Param("purpose")), req.Channel)
	default:
		res, err = s.vault.DataSubjects().MeSetConsent(c.Request.Context(), a, policies.PurposeName(c.Param("purpose")), *req.Granted, req.NoticeVersion, req.Recipient)
	}
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	c.JSON(http.StatusOK, toMeConsentResultDTO(res))
}

type objectionRequest struct {
	Kind string `json:"kind"`
}

func (s *Server) postObjection(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req objectionRequest
	if !s.bindJSON(c, &req) {
		return
	}
	seq, err := s.vault.DataSubjects().SetObjection(c.Request.Context(), a, req.Kind, true)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, gin.H{"kind": req.Kind, "objected": true})
}

func (s *Server) deleteObjection(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	seq, err := s.vault.DataSubjects().SetObjection(c.Request.Context(), a, c.Param("kind"), false)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"kind": c.Param("kind"), "objected": false})
}

func (s *Server) getMeAccessLog(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	limit, _ := strconv.Atoi(c.Query("limit"))
	page, err := s.vault.DataSubjects().MeAccessLog(c.Request.Context(), a, c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	body := gin.H{"entries": dtos(page.Entries, toAccessLogEntryDTO)}
	if page.Next != "" {
		body["next_cursor"] = page.Next
	}
	c.JSON(http.StatusOK, body)
}

// language picks zh or en from Accept-Language (default en).
func language(c *gin.Context) string {
	for _, part := range strings.Split(c.GetHeader("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

func (s *Server) getMeExplanation(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	lang := language(c)
	purposes, tags, seq, err := s.vault.DataSubjects().MeExplanation(c.Request.Context(), a, lang)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.Header("Content-Language", lang)
	// The notice's own parts (PIPL Art. 17: handler, method, how to exercise each right), beside what
	// applies to this subject.
	cat := s.vault.Policy().Purposes()
	out := dtos(purposes, func(x vault.PurposeExplanation) purposeExplanationDTO { return toPurposeExplanationDTO(x, lang) })
	for i := range out {
		if p, ok := cat.Purpose(policies.PurposeName(out[i].Purpose)); ok {
			out[i].Method = processingMethod(p, lang)
		}
	}
	c.JSON(http.StatusOK, gin.H{"language": lang, "handler": toNoticeHandlerDTO(cat, lang), "rights": cat.Handler().Rights[lang],
		"notice_version": newestNoticeVersion(cat), "purposes": out, "tags": dtos(tags, toTagViewDTO)})
}

// getMeExport returns the complete copy as JSON, or (?format=zip) as a ZIP of the same JSON, CSV files and a
// manifest with the SHA-256 of every file, signed with the server's checkpoint key (PIPL Art. 45).
func (s *Server) getMeExport(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	format := c.DefaultQuery("format", "json")
	if format != "json" && format != "zip" {
		s.abortCode(c, vault.CodeInvalidArgument, "format must be json or zip")
		return
	}
	x, err := s.vault.DataSubjects().MeExportStream(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	defer x.Done()
	setAuditSeq(c, x.AuditSeq)
	write := writeExportJSON
	if format == "json" {
		c.Header("Content-Type", "application/json; charset=utf-8")
	} else {
		c.Header("Content-Type", "application/zip")
		c.Header("Content-Disposition", `attachment; filename="profile-export.zip"`)
		write = s.writeExportZip
	}
	c.Status(http.StatusOK)
	// Streamed: a long history never sits in memory whole. Past the headers an error can only cut the body
	// short (then it does not parse, or the ZIP has no manifest): never a wrong export.
	if err := write(s.streaming(c), x); err != nil {
		s.log.Error("export stream stopped", "request_id", requestID(c), "format", format, "err", err)
	}
}

// writeExportJSON writes the export object member by member, streaming the events, so a subject with a
// long history never sits in memory whole. The members are those of vault.Export, in its order.
func writeExportJSON(w io.Writer, x vault.Export) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	member := func(first bool, name string, v any) error {
		if !first {
			bw.WriteByte(',')
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "%q:", name)
		_, err = bw.Write(b)
		return err
	}
	bw.WriteByte('{')
	for i, m := range []struct {
		name string
		v    any
	}{{"subject_id", x.SubjectID}, {"exported_at", x.ExportedAt}, {"profile", x.Profile}, {"consents", dtos(x.Consents, toConsentViewDTO)},
		{"consent_history", dtos(x.ConsentHistory, toConsentViewDTO)}, {"objections", x.Objections}} {
		if err := member(i == 0, m.name, m.v); err != nil {
			return err
		}
	}
	bw.WriteString(`,"events":[`)
	n := 0
	err := x.EachEvent(func(e vault.EventView) error {
		if n > 0 {
			bw.WriteByte(',')
		}
		n++
		b, err := json.Marshal(toEventViewDTO(e))
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteByte(']')
	for _, m := range []struct {
		name string
		v    any
	}{{"tags", dtos(x.Tags, toTagViewDTO)}, {"access_log", dtos(x.AccessLog, toAccessLogEntryDTO)}, {"requests", dtos(x.Requests, toRequestViewDTO)}} {
		if err := member(false, m.name, m.v); err != nil {
			return err
		}
	}
	bw.WriteByte('}')
	return bw.Flush()
}

// writeExportZip streams the export package: each file goes into the ZIP as it is produced (the events
// straight from the store, twice: in export.json and events.csv), hashed on the way, and the manifest of
// the files' digests, signed, comes last.
func (s *Server) writeExportZip(w io.Writer, x vault.Export) error {
	zw := zip.NewWriter(w)
	var files []exportFile
	add := func(name string, write func(io.Writer) error) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: x.ExportedAt})
		if err != nil {
			return err
		}
		h, n := sha256.New(), &countingWriter{}
		if err := write(io.MultiWriter(fw, h, n)); err != nil {
			return err
		}
		files = append(files, exportFile{Name: name, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n.n})
		return nil
	}
	rows := func(r [][]string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(csvBytes(r)); return err }
	}
	consentRows := func(vs []vault.ConsentView) [][]string {
		out := [][]string{{"id", "action", "purpose", "status", "kind", "notice_version", "method", "evidence", "recipient", "granted_at", "withdrawn_at", "expires_at",
			"channels", "recorded_by", "withdraws"}}
		for _, v := range vs {
			out = append(out, []string{v.ID, v.Action, string(v.Purpose), v.Status, v.Kind, v.NoticeVersion, v.Method, v.Evidence,
				strOrEmpty(v.Recipient), timeOrEmpty(v.GrantedAt), timeOrEmpty(v.WithdrawnAt), timeOrEmpty(v.ExpiresAt),
				strings.Join(v.Channels, " "), v.RecordedBy, v.Withdraws})
		}
		return out
	}
	access := [][]string{{"ts", "actor_roles", "team", "purpose", "action", "fields", "categories", "decision", "under_request", "reason_category"}}
	for _, e := range x.AccessLog {
		access = append(access, []string{e.TS.Format(time.RFC3339Nano), strings.Join(e.ActorRoles, " "), e.Team, e.Purpose, e.Action,
			strings.Join(e.Fields, " "), strings.Join(e.Categories, " "), e.Decision, strconv.FormatBool(e.UnderRequest), e.RequestReason})
	}
	keys := make([]string, 0, len(x.Profile))
	for k := range x.Profile {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	profile := [][]string{{"field", "value"}}
	for _, k := range keys {
		profile = append(profile, []string{k, x.Profile[k]})
	}
	tags := [][]string{{"key", "level", "purpose", "value", "computed_at", "inputs", "consent_ids", "explanation_en", "explanation_zh"}}
	for _, t := range x.Tags {
		tags = append(tags, []string{t.Key, t.Level, string(t.Purpose), t.Value, t.ComputedAt.Format(time.RFC3339Nano),
			strings.Join(t.Inputs, " "), strings.Join(t.ConsentIDs, " "), t.ExplanationEN, t.ExplanationZH})
	}
	objections := [][]string{{"kind"}}
	for _, o := range x.Objections {
		objections = append(objections, []string{o})
	}
	requests := [][]string{{"id", "type", "state", "created_at", "due_at", "updated_at", "reason", "note"}}
	for _, r := range x.Requests {
		requests = append(requests, []string{r.ID, r.Type, r.State, r.CreatedAt.Format(time.RFC3339Nano), r.DueAt.Format(time.RFC3339Nano),
			r.UpdatedAt.Format(time.RFC3339Nano), r.Reason, r.Note})
	}
	events := func(w io.Writer) error {
		cw := audit.NewCSVWriter(w)
		if err := cw.Write([]string{"event_id", "type", "category", "ts", "source", "attrs"}); err != nil {
			return err
		}
		err := x.EachEvent(func(e vault.EventView) error {
			attrs, _ := json.Marshal(e.Attrs)
			return cw.Write([]string{e.ID, e.Type, e.Category, e.TS.Format(time.RFC3339Nano), e.Source, string(attrs)})
		})
		return errors.Join(err, cw.Flush())
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"access_log.csv", rows(access)},
		{"consent_history.csv", rows(consentRows(x.ConsentHistory))},
		{"consents.csv", rows(consentRows(x.Consents))},
		{"events.csv", events},
		{"export.json", func(w io.Writer) error { return writeExportJSON(w, x) }},
		{"objections.csv", rows(objections)},
		{"profile.csv", rows(profile)},
		{"requests.csv", rows(requests)},
		{"tags.csv", rows(tags)},
	} {
		if err := add(f.name, f.write); err != nil {
			return err
		}
	}
	manifest := struct {
		SubjectID   string       `json:"subject_id"`
		ExportedAt  time.Time    `json:"exported_at"`
		Files       []exportFile `json:"files"`
		VerifierKey string       `json:"verifier_key"`
	}{SubjectID: x.SubjectID, ExportedAt: x.ExportedAt, Files: files, VerifierKey: s.vault.VerifierKey()}
	mj, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	msum := sha256.Sum256(mj)
	sig, err := s.vault.SignDocument("export manifest", "sha256 "+hex.EncodeToString(msum[:]), "subject "+x.SubjectID)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", mj}, {"manifest.sig", []byte(sig)}} {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: x.ExportedAt})
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// exportFile is one file of an export package with its digest.
type exportFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

// countingWriter counts the bytes written through it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// csvBytes renders rows with the vault's formula-safe CSV writer.
func csvBytes(rows [][]string) []byte {
	var b bytes.Buffer
	w := audit.NewCSVWriter(&b)
	for _, r := range rows {
		_ = w.Write(r)
	}
	_ = w.Flush()
	return b.Bytes()
}

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func timeOrEmpty(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// deleteMeRestriction lifts the caller's own restriction of processing (PIPL Art. 44).
func (s *Server) deleteMeRestriction(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	seq, err := s.vault.DataSubjects().MeLiftRestriction(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"restricted": false})
}

// deleteMeTag deletes one of the caller's tags and keeps it from being computed again while the choice
// stands; putMeTag withdraws that choice (Algorithmic Recommendation Provisions Art. 17).
func (s *Server) deleteMeTag(c *gin.Context) { s.meTagChoice(c, true) }

// putMeTag lifts the refusal of a tag ({"allowed": true}, or no body); {"allowed": false} refuses it, as
// DELETE does.
func (s *Server) putMeTag(c *gin.Context) {
	var req struct {
		Allowed *bool `json:"allowed"`
	}
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	s.meTagChoice(c, req.Allowed != nil && !*req.Allowed)
}

func (s *Server) meTagChoice(c *gin.Context, refuse bool) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	choose := s.vault.DataSubjects().MeAllowTag
	if refuse {
		choose = s.vault.DataSubjects().MeRefuseTag
	}
	seq, err := choose(c.Request.Context(), a, c.Param("key"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusOK, gin.H{"key": c.Param("key"), "refused": refuse})
}
