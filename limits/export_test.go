package limits

// StageFunctions is schema version 8's text, for BenchmarkBeginHotAccount's
// baseline (og_begin as it was before schema 13).
const StageFunctions = stageFunctions
