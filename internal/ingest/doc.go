// Package ingest owns the pure, storage-free part of multi-source import: streaming readers for the
// subjects, events, consents and objections files that `vaultd import` and `POST /v1/events` accept
// (NDJSON or CSV), per-type event validation, standardisation of subject fields and event amounts,
// imputation rules, anomaly flags (robust z-score on order amounts, bot-like behaviour rates),
// near-duplicate name similarity, and the data-quality report.
//
// Nothing here touches the database, HTTP or keys: the vault stores what this package has parsed,
// checked and cleaned.
//
// # Reading
//
// [NewReader] reads one file of one [Kind] in one format and yields one [Row] per record with its
// 1-based starting line number. Memory is bounded: lines (and CSV records) longer than
// [MaxLineBytes] are rejected with the reason "line_too_long" and skipped, never buffered whole. A bad
// record yields a Row whose Err is a [RowError] with a stable reason code, and reading goes on with the
// next record; an I/O error yields a Row whose Err is not a RowError, and ends the stream. A UTF-8
// byte-order mark at the start, CRLF line endings and blank lines are accepted. Input that is not valid
// UTF-8 (a GBK export, say) is rejected row by row with "bad_encoding" rather than silently altered.
//
// Events, consents and objections are fully validated by the reader ([ValidateEvent],
// [ValidateConsent], [ValidateObjection]); subjects are checked at the envelope level only (external_id,
// source), because their field values are checked against the schema, and standardised, by
// [Cleaner.Subject].
//
// # Reason codes
//
// A [RowError] reason is a stable code, optionally followed by ":" and a name from a fixed vocabulary
// (a schema field, an envelope field or a per-type attribute), never by a value taken from the row:
//
//	malformed_json        the line is not one JSON object
//	bad_csv               CSV syntax error or wrong number of fields
//	bad_header            the CSV header is unusable (missing, duplicate or unknown column); reading stops
//	bad_encoding          the line is not valid UTF-8
//	line_too_long         a line or CSV record longer than MaxLineBytes
//	missing_field:<name>  a required envelope field is missing or empty
//	unknown_field         a key that is neither an envelope field nor a schema field
//	bad_value:<name>      an envelope or schema field value of the wrong type or form
//	bad_subject_ref       subject_id is neither "sub_…" nor "external:<source>:<external_id>"
//	unknown_type          an event type outside the vocabulary
//	bad_time              a time that is not RFC 3339 (with a zone offset)
//	future_time           an event or grant time more than MaxClockSkew in the future
//	bad_attrs[:<attr>]    attrs is not an object, or a required attribute is missing or invalid
//	attrs_too_large       attrs encode to more than MaxAttrsBytes of JSON
//	schema_unavailable    the built-in schema could not be loaded (Cleaner.Subject; cannot happen in a
//	                      correctly built binary)
//
// [RowError.Code] returns the part before the colon.
//
// # Standardisation and imputation
//
// [Cleaner.Subject] trims and collapses white space, puts phone numbers into E.164, lower-cases
// e-mail addresses, upper-cases id numbers, rewrites dates such as "1990/4/1" or "1990年4月1日" as
// YYYY-MM-DD, maps gender spellings ("男", "F") to the schema's enum, and maps province and city names
// to the canonical short names of the embedded region table (regions.json: all 34 provincial-level
// divisions and about 130 major cities, with official full names, pinyin and a few historical or
// traditional spellings as aliases). [Cleaner.Event] converts amounts to CNY with the fixed rate table
// documented at [RateToCNY] and rounds them to 2 decimals. [Cleaner.ImputeCity] fills a missing
// city and province from the POS store table; [Cleaner.ImputeProvince] fills a missing province from
// a known city. Each change is counted per field in [Cleaner.Counts].
//
// # Anomalies
//
// [AmountStats] keeps a deterministic reservoir sample of order amounts and flags an amount whose
// robust z-score |x − median| / (1.4826 · MAD) exceeds 3.5. [BotDetector] flags subjects with more
// than 60 behaviour events in any 60-second window.
package ingest
