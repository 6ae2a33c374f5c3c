package policies

import (
	"errors"
	"slices"
	"strings"
)

// Errors returned by this package. Each is wrapped with %w and a message that names the file and the line,
// field or rule at fault; messages never contain personal data.
var (
	// ErrInvalid reports a policy file that cannot be read, parsed or validated.
	ErrInvalid = errors.New("policies: invalid policy file")
	// ErrUnknownRole reports a role that no policy rule mentions.
	ErrUnknownRole = errors.New("policies: unknown role")
	// ErrUnknownPurpose reports a purpose that is not in the purposes catalog.
	ErrUnknownPurpose = errors.New("policies: unknown purpose")
)

// PurposeName names a purpose of the catalog, as a client declares it in X-Purpose.
type PurposeName string

// NoPurpose is the purpose used to decide routes that need no declared purpose (policies, audit verification,
// jobs, operations). Only rules whose purpose is "*" apply to it.
const NoPurpose PurposeName = "-"

// AnyPurpose is the purpose column value of a rule that applies to every purpose, including [NoPurpose].
const AnyPurpose = "*"

// FieldPrefix prefixes a field name to make a policy object for that single field ("field:city").
const FieldPrefix = "field:"

// Object is what a policy rule is about: a category, a single field ("field:city") or a resource.
type Object string

// Act is what a policy rule allows or denies on an object.
type Act string

// FieldObject returns the policy object naming a single field, e.g. "field:city".
func FieldObject(name string) Object { return Object(fieldObject(name)) }

// fieldObject is FieldObject as the rule tables hold it.
func fieldObject(name string) string { return FieldPrefix + name }

// CategoryObject returns the policy object naming a field category.
func CategoryObject(category string) Object { return Object(category) }

// Role is a role a token carries and policy rules name.
type Role string

// Texts returns named strings (purposes, roles, actions) as plain text, in a new slice.
func Texts[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// RoleNames returns roles as text (for the audit trail and the wire), in a new slice.
func RoleNames(roles []Role) []string { return Texts(roles) }

// Roles returns names as roles (a token's claim), in a new slice.
func Roles(names []string) []Role {
	out := make([]Role, len(names))
	for i, n := range names {
		out[i] = Role(n)
	}
	return out
}

// Built-in role names (API.md). The roles a policy knows are those its rules mention; see [Set.Roles].
const (
	RoleAdmin             Role = "admin"
	RoleDataSteward       Role = "data_steward"
	RoleCustomerService   Role = "customer_service"
	RoleMarketing         Role = "marketing"
	RoleAnalyst           Role = "analyst"
	RoleComplianceOfficer Role = "compliance_officer"
	RoleSubject           Role = "subject"
	RoleWitness           Role = "witness" // an outside auditor: signed checkpoints and hash tiles only
)

// Built-in purpose names (API.md). The purposes a policy knows are those of its catalog; see [Set.Purposes].
const (
	PurposeAccountManagement   PurposeName = "account_management"
	PurposeOrderFulfillment    PurposeName = "order_fulfillment"
	PurposeCustomerService     PurposeName = "customer_service"
	PurposeMarketing           PurposeName = "marketing"
	PurposePersonalization     PurposeName = "personalization"
	PurposeAnalytics           PurposeName = "analytics"
	PurposeRiskControl         PurposeName = "risk_control"
	PurposeThirdPartySharing   PurposeName = "third_party_sharing"
	PurposeCrossBorderTransfer PurposeName = "cross_border_transfer"
	PurposeDataSubjectRequest  PurposeName = "data_subject_request"
	PurposeComplianceAudit     PurposeName = "compliance_audit"
	PurposePricing             PurposeName = "pricing"
)

// Field categories. The set is fixed; schema fields and policy rules may only use these.
const (
	CategoryIdentity           = "identity"
	CategoryContact            = "contact"
	CategoryAddress            = "address"
	CategoryDemographic        = "demographic"
	CategorySensitiveIdentity  = "sensitive_identity"
	CategorySensitiveFinancial = "sensitive_financial"
	CategoryBehavior           = "behavior"
	CategoryTransactions       = "transactions"
	CategoryInteractions       = "interactions"
	CategoryTags               = "tags"
)

// Resources: policy objects that are neither categories nor fields.
const (
	ResourceSubjects   Object = "subjects"
	ResourceConsents   Object = "consents"
	ResourceObjections Object = "objections"
	ResourceRequests   Object = "requests"
	ResourceAudit      Object = "audit"
	ResourcePolicies   Object = "policies"
	ResourceKeys       Object = "keys"
	ResourceAudiences  Object = "audiences"
	ResourceAggregates Object = "aggregates"
	ResourceJobs       Object = "jobs"
	ResourceTokens     Object = "tokens"
	ResourceBackups    Object = "backups"
	// ResourceTags is the tags category as the object of computing tags.
	ResourceTags Object = CategoryTags
)

// Actions.
const (
	ActRead       Act = "read"
	ActWrite      Act = "write"
	ActLookup     Act = "lookup"
	ActCompute    Act = "compute"
	ActCreate     Act = "create"
	ActErase      Act = "erase"
	ActTransition Act = "transition"
	ActVerify     Act = "verify"
	ActReload     Act = "reload"
	ActRotate     Act = "rotate"
	ActRevoke     Act = "revoke"
	ActRestore    Act = "restore"
)

// Masks of a read grant.
const (
	MaskFull   = "full"
	MaskMasked = "masked"
	// maskNone is the mask column of rules that are not reads of categories or fields.
	maskNone = "-"
)

// Effects of a rule.
const (
	effectAllow = "allow"
	effectDeny  = "deny"
)

// categoryOrder is the canonical order of the fixed category vocabulary.
var categoryOrder = []string{
	CategoryIdentity, CategoryContact, CategoryAddress, CategoryDemographic,
	CategorySensitiveIdentity, CategorySensitiveFinancial,
	CategoryBehavior, CategoryTransactions, CategoryInteractions, CategoryTags,
}

// dataActions are the actions valid on categories and fields; categoryExtraActions adds per-category ones.
var (
	dataActions          = acts(ActRead, ActWrite, ActLookup)
	categoryExtraActions = map[string][]string{CategoryTags: acts(ActCompute)}
)

// resourceActions lists, in canonical order, the actions valid on each resource.
var resourceActions = map[string][]string{
	string(ResourceSubjects):   acts(ActCreate, ActErase),
	string(ResourceConsents):   acts(ActRead, ActWrite),
	string(ResourceObjections): acts(ActWrite),
	string(ResourceRequests):   acts(ActRead, ActCreate, ActTransition),
	string(ResourceAudit):      acts(ActRead, ActVerify),
	string(ResourcePolicies):   acts(ActRead, ActReload),
	string(ResourceKeys):       acts(ActRotate),
	string(ResourceAudiences):  acts(ActWrite),
	string(ResourceAggregates): acts(ActRead),
	string(ResourceJobs):       acts(ActRead),
	string(ResourceTokens):     acts(ActRevoke),
	string(ResourceBackups):    acts(ActRestore),
}

// acts lists actions as the rule tables hold them (the policy files' text).
func acts(a ...Act) []string { return Texts(a) }

// Categories returns the fixed category vocabulary in canonical order.
func Categories() []string { return slices.Clone(categoryOrder) }

// IsCategory reports whether name is one of the fixed field categories.
func IsCategory(name string) bool { return slices.Contains(categoryOrder, name) }

// IsSensitiveCategory reports whether a category holds sensitive personal information (PIPL Art. 28).
func IsSensitiveCategory(name string) bool {
	return IsCategory(name) && strings.HasPrefix(name, "sensitive_")
}

// Resources returns the resource vocabulary in sorted order.
func Resources() []string {
	out := make([]string, 0, len(resourceActions))
	for r := range resourceActions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// ActionsFor returns the actions valid on a resource or a category, or nil for an unknown object. Fields
// ("field:x") take the actions of categories without the per-category extras.
func ActionsFor(obj string) []string {
	if acts, ok := resourceActions[obj]; ok {
		return slices.Clone(acts)
	}
	if strings.HasPrefix(obj, FieldPrefix) {
		return slices.Clone(dataActions)
	}
	if IsCategory(obj) {
		return append(slices.Clone(dataActions), categoryExtraActions[obj]...)
	}
	return nil
}

// allActions is every action of the vocabulary, sorted (used to validate and to test exhaustively).
func allActions() []string {
	set := map[string]bool{}
	for _, a := range dataActions {
		set[a] = true
	}
	for _, as := range categoryExtraActions {
		for _, a := range as {
			set[a] = true
		}
	}
	for _, as := range resourceActions {
		for _, a := range as {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// validName reports whether s is a plain identifier usable as a role, purpose, field or recipient name:
// 1-64 characters of lower-case ASCII letters, digits, '_', '-' and '.', starting with a letter or digit.
func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}
