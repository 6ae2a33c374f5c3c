// Package consent will own the purposes' legal bases at access time: append-only consent records per
// subject, notice versions, guardian and separate consents, and the evaluation the vault's enforcement
// point asks for (vault.BasisChecker). Until it lands, the vault uses vault.NoConsentRecords: contract and
// legal-obligation purposes are decided by policy alone, and every consent-based purpose is refused.
package consent
