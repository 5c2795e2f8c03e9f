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
        is_attachment and
        (content_type contains "html" or extension == "htm" or extension == "html") and
        $form and $password
}
