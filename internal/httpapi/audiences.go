package httpapi

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/profilevault/profilevault/policies"
	"github.com/profilevault/profilevault/vault"
	"github.com/profilevault/profilevault/vault/uplift"
)

// audienceRequest is POST /v1/audiences' body.
// audienceRequest is POST /v1/audiences; a holdout left out is 10 %, as the campaign plan's (0 asks for
// none: without a holdout there is nothing to measure an uplift against).
type audienceRequest struct {
	Name    string   `json:"name"`
	Rule    string   `json:"rule"`
	Channel string   `json:"channel"`
	Holdout *float64 `json:"holdout"`
}

// audienceDTO is a built audience on the wire: sizes and exclusion counts, never a person.
type audienceDTO struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Rule        string         `json:"rule"`
	Channel     string         `json:"channel"`
	Holdout     float64        `json:"holdout"`
	Size        int            `json:"size"`
	HoldoutSize int            `json:"holdout_size"`
	Excluded    map[string]int `json:"excluded"`
	// Unmatched: reachable, but the rule does not match their tags (size + holdout_size + excluded +
	// unmatched is everyone decided).
	Unmatched int       `json:"unmatched"`
	CreatedAt time.Time `json:"created_at"`
	// Personalised is the marker its messages must carry: audiences are always picked from profile tags.
	Personalised personalisedDTO `json:"personalised"`
}

func toAudienceDTO(x vault.AudienceRow, m personalisedDTO) audienceDTO {
	return audienceDTO{ID: x.ID, Name: x.Name, Rule: x.Rule, Channel: x.Channel, Holdout: x.Holdout, Size: x.Size, HoldoutSize: x.HoldoutSize,
		Excluded: x.Excluded, Unmatched: x.Unmatched, CreatedAt: x.CreatedAt, Personalised: m}
}

// personalisedDTO is the label and opt-out text every message sent to an audience carries (GB/T 35273 §7.5:
// personalised content marked, with a way to turn it off; strategy.json "personalised").
type personalisedDTO struct {
	Label  map[string]string `json:"label"`
	OptOut map[string]string `json:"opt_out"`
}

func toPersonalisedDTO(m policies.PersonalisedMarker) personalisedDTO {
	return personalisedDTO{Label: m.Label, OptOut: m.OptOut}
}

// personalised is the marker of the policy in force.
func (s *Server) personalised() personalisedDTO {
	return toPersonalisedDTO(s.vault.Policy().Personalised())
}

func (s *Server) postAudience(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req audienceRequest
	if !s.bindJSON(c, &req) {
		return
	}
	holdout := 0.1
	if req.Holdout != nil {
		holdout = *req.Holdout
	}
	aud, seq, err := s.vault.Audiences().Build(c.Request.Context(), a, vault.AudienceInput{Name: req.Name, Rule: req.Rule, Channel: req.Channel, Holdout: holdout})
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	c.JSON(http.StatusCreated, toAudienceDTO(aud, s.personalised()))
}

type memberDTO struct {
	Ref     string `json:"member_ref"`
	Address string `json:"address,omitempty"`
}

func (s *Server) getAudienceMembers(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	limit, ok := s.limitParam(c, 1000)
	if !ok {
		return
	}
	page, err := s.vault.Audiences().Members(c.Request.Context(), a, c.Param("id"), c.Query("cursor"), limit)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, page.AuditSeq)
	out := make([]memberDTO, 0, len(page.Members))
	for _, m := range page.Members {
		out = append(out, memberDTO{Ref: m.Ref, Address: m.Address})
	}
	body := gin.H{"members": out, "personalised": s.personalised()}
	if page.Next != "" {
		body["next_cursor"] = page.Next
	}
	c.JSON(http.StatusOK, body)
}

// outcomeDTO is one member's outcome in POST /v1/audiences/{id}/outcomes.
// Every part but member_ref may be left out: it then keeps what an earlier upload said.
type outcomeDTO struct {
	Ref        string   `json:"member_ref"`
	Converted  *bool    `json:"converted"`
	OrderValue *float64 `json:"order_value"`
	Retained30 *bool    `json:"retained_30"`
	Retained60 *bool    `json:"retained_60"`
	Retained90 *bool    `json:"retained_90"`
}

func toOutcome(x outcomeDTO) vault.OutcomeUpdate {
	return vault.OutcomeUpdate{Ref: x.Ref, Converted: x.Converted, OrderValue: x.OrderValue, Retained30: x.Retained30, Retained60: x.Retained60, Retained90: x.Retained90}
}

func (s *Server) postOutcomes(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req struct {
		Outcomes []outcomeDTO `json:"outcomes"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	outcomes := make([]vault.OutcomeUpdate, len(req.Outcomes))
	for i, o := range req.Outcomes {
		outcomes[i] = toOutcome(o)
	}
	res, err := s.vault.Audiences().RecordOutcomes(c.Request.Context(), a, c.Param("id"), outcomes)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, res.AuditSeq)
	// skipped: members whose outcome was not recorded, by reason (erased since the build, or no longer to be
	// processed for the purpose: no_consent, objection, restricted, minor).
	c.JSON(http.StatusOK, gin.H{"recorded": res.Recorded, "skipped": res.Skipped})
}

// intervalDTO is an estimate with its 95 % interval; significant when the interval excludes zero.
type intervalDTO struct {
	Estimate    *float64 `json:"estimate"`
	Lo          *float64 `json:"ci95_lo"`
	Hi          *float64 `json:"ci95_hi"`
	Significant bool     `json:"significant"`
}

func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func toIntervalDTO(x uplift.Interval) intervalDTO {
	return intervalDTO{Estimate: finite(x.Estimate), Lo: finite(x.Lo), Hi: finite(x.Hi), Significant: x.Significant()}
}

// groupDTO is one group of the report: members is the group's size at the build, the denominator of the
// conversion rate (a member no upload named did not convert); reported, how many members uploads named.
type groupDTO struct {
	Members    int      `json:"members"`
	Reported   int      `json:"reported"`
	Converted  int      `json:"converted"`
	Conversion *float64 `json:"conversion_rate"`
	Retained   [3]int   `json:"retained_30_60_90"`
	Known      [3]int   `json:"retention_known_30_60_90"`
	AOV        *float64 `json:"aov"`
}

func toGroupDTO(g vault.GroupStats) groupDTO {
	d := groupDTO{Members: g.Members, Reported: g.Reported, Converted: g.Converted, Retained: g.Retained, Known: g.Known}
	if g.Members > 0 {
		d.Conversion = finite(float64(g.Converted) / float64(g.Members))
	}
	if g.AOV.N > 0 {
		d.AOV = finite(g.AOV.Mean)
	}
	return d
}

func (s *Server) getAudienceReport(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rep, err := s.vault.Audiences().Report(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, rep.AuditSeq)
	retention := map[string]any{}
	for i, d := range []string{"30d", "60d", "90d"} {
		retention[d] = gin.H{"difference": toIntervalDTO(rep.Retention[i]), "relative": finite(rep.RelativeRetention[i])}
	}
	c.JSON(http.StatusOK, gin.H{
		"treated": toGroupDTO(rep.Treated), "holdout": toGroupDTO(rep.Holdout),
		"conversion": gin.H{"difference": toIntervalDTO(rep.Conversion), "relative": finite(rep.RelativeConversion)},
		"retention":  retention,
		"aov":        gin.H{"difference": toIntervalDTO(rep.AOV)},
		"method":     "rates: Newcombe hybrid score interval of the difference (Wilson); average order value: Welch; 95 %; not significant when the interval spans zero",
	})
}

func (s *Server) getHoldoutRefs(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	refs, next, seq, err := s.vault.Audiences().HoldoutRefs(c.Request.Context(), a, c.Param("id"), c.Query("cursor"), 0)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	body := gin.H{"member_refs": refs}
	if next != "" {
		body["next_cursor"] = next
	}
	c.JSON(http.StatusOK, body)
}

type planTierDTO struct {
	Tier     string            `json:"tier"`
	Channel  string            `json:"channel"`
	Content  map[string]string `json:"content"`
	Audience audienceDTO       `json:"audience"`
}

// postCampaignPlan builds the tiered audiences of the strategy table for the whole population.
func (s *Server) postCampaignPlan(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	var req struct {
		Holdout *float64 `json:"holdout"`
	}
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) { // the body is optional: its one member is
		return
	}
	holdout := 0.1
	if req.Holdout != nil {
		holdout = *req.Holdout
	}
	plan, err := s.vault.Audiences().Plan(c.Request.Context(), a, holdout)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	tiers := make([]planTierDTO, 0, len(plan.Tiers))
	marker := s.personalised()
	for _, t := range plan.Tiers {
		tiers = append(tiers, planTierDTO{Tier: t.Tier, Channel: t.Channel, Content: t.Content, Audience: toAudienceDTO(t.Audience, marker)})
	}
	setAuditSeq(c, plan.AuditSeq)
	c.JSON(http.StatusCreated, gin.H{"tiers": tiers, "excluded": plan.Excluded, "unmatched": plan.Unmatched})
}

func (s *Server) getAudiences(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	rows, seq, err := s.vault.Audiences().List(c.Request.Context(), a)
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	out := make([]audienceDTO, 0, len(rows))
	marker := s.personalised()
	for _, r := range rows {
		out = append(out, toAudienceDTO(r, marker))
	}
	c.JSON(http.StatusOK, gin.H{"audiences": out})
}

// getAudience answers one audience and, for a tier of a campaign plan, the plan: its channel and content.
func (s *Server) getAudience(c *gin.Context) {
	a, ok := s.access(c)
	if !ok {
		return
	}
	row, tier, seq, err := s.vault.Audiences().Audience(c.Request.Context(), a, c.Param("id"))
	if err != nil {
		s.abortWith(c, err)
		return
	}
	setAuditSeq(c, seq)
	body := gin.H{"audience": toAudienceDTO(row, s.personalised())}
	if tier != nil {
		// This audience's channel, and all the tier's in order of preference.
		body["plan"] = gin.H{"tier": tier.Name, "channel": row.Channel, "channels": tier.Channels, "content": tier.Content}
	}
	c.JSON(http.StatusOK, body)
}
