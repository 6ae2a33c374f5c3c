// Package consent owns the legal basis of a purpose at the moment of access (PIPL Art. 13): the append-only
// history of consent events per subject, the current state derived from it, and the evaluation the vault's
// enforcement point asks for — consent of the right kind, for a notice version no material change has
// superseded, not withdrawn or expired; a guardian's consent for subjects under 14 (Art. 31); a separate
// consent for sensitive categories (Art. 29); a separate consent naming the recipient for sharing and
// cross-border purposes (Art. 23, 39). It is pure domain logic: Store is the
// storage it needs (a store adapter implements it), and sealing lives in the vault.
package consent
