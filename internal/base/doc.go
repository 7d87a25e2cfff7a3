// Package base holds the small vocabulary every other Strata package shares:
// internal keys and their ordering, comparators, the internal iterator
// interface, file names, checksums and the error values used to report
// corruption.
//
// Nothing here does I/O. Everything here is safe for concurrent use.
package base
