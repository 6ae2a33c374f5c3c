// Package dsr owns the pure domain logic of the data-subject request workflow (PIPL Art. 50):
// the request types and states, which state transitions are legal and when a reason is
// required, the working-day calendar (public holidays and make-up working days of the PRC),
// and the due date of a request counted in working days (GB/T 35273-2020 §8.7, default 15
// working days for every type).
//
// It has no storage and no HTTP: callers persist requests and serve them, and ask this package
// whether a move is allowed, when a request is due and whether it is overdue. Every value here is
// immutable after construction and safe for concurrent use.
package dsr
