// Package policies owns Profile Vault's editable policy files and their loader.
//
// Four files make up one policy version, all embedded in the binary and each overridable by a file of the
// same name in a directory passed to [Load]:
//
//   - schema.json: the profile field schema (name, category, type, length, sensitivity, blind index, mask);
//   - purposes.json: the purposes catalog (legal basis, consent kind, processed categories, retention,
//     recipients, notice version);
//   - model.conf: the Casbin model (role, purpose, object, action, effect, mask);
//   - policy.csv: the Casbin rules saying what a role may read or write for a purpose, and with which mask.
//
// [Load] validates every file, builds a Casbin enforcer, links every field to its category (g2 rows generated
// from the schema), and compiles the enforcer's decisions for every role, purpose, object and action into an
// immutable lookup table, so that the request hot path never calls Casbin. Reloading means calling Load again
// and swapping the returned [Set] atomically; a broken file yields an error and no Set.
//
// Consent, age and objections are not decided here: they are facts about the subject, checked by the consent
// package. This package knows nothing of HTTP, SQL or JWT.
package policies
