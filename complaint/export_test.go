package complaint

// For the external tests (complaint_test), which use the harness: it
// imports this package through setup.
var (
	TestKeys   = testKeys
	ReportOf   = report
	AliceRef   = aliceRef
	DNSTimeout = dnsTimeout
)
