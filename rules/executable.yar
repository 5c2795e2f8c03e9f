// Executable programs attached to outbound mail: recipients' providers
// block them and they are how compromised PCs spread.

rule executable_attachment
{
    meta:
        action = "reject"
        description = "executable program attached (PE, ELF or Mach-O), whatever its name"
    condition:
        is_attachment and (
            (uint16(0) == 0x5A4D and uint32(0x3C) < filesize and uint32(uint32(0x3C)) == 0x00004550) or
            uint32(0) == 0x464C457F or
            uint32(0) == 0xFEEDFACE or uint32(0) == 0xFEEDFACF or
            uint32(0) == 0xCEFAEDFE or uint32(0) == 0xCFFAEDFE
        )
}

rule double_extension
{
    meta:
        action = "reject"
        description = "attachment name hides a program behind a document extension (invoice.pdf.exe)"
    condition:
        filename matches /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|zip|rar|html?)\.(exe|scr|com|pif|bat|cmd|js|jse|vbs|vbe|wsf|hta|ps1|lnk|msi|jar)$/i
}

rule script_attachment
{
    meta:
        action = "reject"
        description = "script attached (.js .vbs .wsf .hta .ps1 .bat .cmd .scr)"
    condition:
        is_attachment and (
            extension == "js" or extension == "jse" or extension == "vbs" or extension == "vbe" or
            extension == "wsf" or extension == "hta" or extension == "ps1" or
            extension == "bat" or extension == "cmd" or extension == "scr"
        )
}
