// Executable programs in outbound mail: recipients' providers block them
// and they are how compromised PCs spread. The walker names every item's
// type by its content (file_type): a program is a program attached,
// inline, unnamed, misnamed, in an archive, uuencoded, or carved out of
// what lay past a limit.

rule executable_attachment
{
    meta:
        action = "reject"
        description = "executable program (PE, ELF or Mach-O) by its content, whatever its name, place or depth"
    condition:
        file_type == "pe" or file_type == "elf" or file_type == "macho"
}

rule double_extension
{
    meta:
        action = "reject"
        description = "attachment name hides a program behind a document extension (invoice.pdf.exe)"
    condition:
        // names: every declared name of the item, each ending in a newline.
        names matches /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|zip|rar|html?)\.(exe|scr|com|pif|bat|cmd|js|jse|vbs|vbe|wsf|hta|ps1|lnk|msi|jar)\n/i
}

rule script_attachment
{
    meta:
        action = "reject"
        description = "script or launcher attached (.js .vbs .wsf .hta .ps1 .bat .cmd .scr .lnk .jar .msi .chm .reg .url ...), by any of its declared names"
    condition:
        // What Windows runs or installs on a double click, as Outlook's
        // blocked-attachment list (Level 1) names them: a shortcut (.lnk)
        // carries a command line, not a program the other rules see.
        is_attachment and
        names matches /\.(js|jse|vbs|vbe|wsf|wsh|wsc|sct|hta|ps1|psm1|bat|cmd|scr|lnk|jar|jnlp|msi|msp|msc|chm|reg|scf|url|appref-ms|settingcontent-ms)\n/i
}
