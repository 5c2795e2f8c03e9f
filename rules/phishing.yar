// Credential phishing kits sent from compromised accounts: an HTML
// attachment with a password field that posts to another site.

rule html_password_form_offsite
{
    meta:
        action = "quarantine"
        description = "HTML attachment with a password form posting off-site (credential phishing)"
    strings:
        $form = /<form[^>]{0,300}action\s*=\s*["']?https?:\/\//i
        $password = /<input[^>]{0,200}type\s*=\s*["']?password/i
    condition:
        // is_attachment: what a client lists as one (and every page carved
        // out past a limit); the type by content, declared, or by name.
        is_attachment and
        (file_type == "html" or content_type contains "html" or names matches /\.html?\n/i) and
        $form and $password
}
