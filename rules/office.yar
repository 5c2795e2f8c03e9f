// Office documents with VBA macros: the classic dropper. Legitimate ones
// exist, so they are held for review rather than rejected.

rule office_vba_macro
{
    meta:
        action = "quarantine"
        description = "Office document with VBA macros"
    strings:
        $vba_project = "_VBA_PROJECT" wide ascii
    condition:
        archive_path matches /(^|\/)vbaProject\.bin$/i or
        (file_type == "ole" and $vba_project)
}

rule encrypted_zip
{
    meta:
        action = "quarantine"
        description = "password-protected archive member: no scanner can see inside"
    condition:
        // Set by the walker for every encrypted member, wherever it stands
        // in the archive (not just the first local header).
        encrypted
}
