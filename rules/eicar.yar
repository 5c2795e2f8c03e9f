// The EICAR test string: clamd rejects it; this rule only tags, to show the
// rules see decoded content without blocking twice.

rule eicar_test_string
{
    meta:
        action = "tag"
        description = "EICAR anti-virus test string"
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar
}
