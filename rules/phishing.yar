// Credential phishing kits sent from compromised accounts: an HTML
// attachment with a password field that posts to another site.

rule html_password_form_offsite
{
    meta:
        action = "quarantine"
        description = "HTML attachment with a password form posting off-site (credential phishing)"
    strings:
        // A browser decodes character references in attribute values
        // (action="https&#58;//..."), reads the page in UTF-16 after a BOM
        // (wide), posts to a button's formaction, and resolves a relative
        // action against <base href>: each is an off-site target.
        $form = /<form[^>]{0,4000}\saction\s*=\s*["']?\s*(https?[:&]|\/\/|&#)/ nocase ascii wide
        $formaction = /\sformaction\s*=\s*["']?\s*(https?[:&]|\/\/|&#)/ nocase ascii wide
        $base = /<base[^>]{0,4000}\shref\s*=\s*["']?\s*(https?[:&]|\/\/|&#)/ nocase ascii wide
        $password = /<input[^>]{0,4000}\stype\s*=\s*["']?\s*(password|[a-z]{0,7}&#)/ nocase ascii wide
    condition:
        // is_attachment: what a client lists as one (and every page carved
        // out past a limit); the type by content, declared, or by name.
        is_attachment and
        (file_type == "html" or content_type contains "html" or names matches /\.html?\n/i) and
        $password and ($form or $formaction or $base)
}
