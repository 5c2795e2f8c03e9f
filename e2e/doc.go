// Package e2e holds the end-to-end tests: each drives several real
// components (Postfix, Sendmail, clamd, Redis, PostgreSQL, the binaries)
// started by internal/harness, with milterd's state built as milterd builds
// it (setup) or the binaries themselves. The engine packages keep their
// unit tests. Files are named by topic (limits_test.go, rules_test.go, ...).
package e2e
