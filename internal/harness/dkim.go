package harness

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey is a test domain's DKIM signing key (RSA 2048, as receivers'
// feedback loops sign); its public half is served by StartUnbound with
// Record among a zone's records.
type DKIMKey struct {
	Domain, Selector string
	Key              *rsa.PrivateKey
}

// NewDKIMKey makes a fresh key for domain, selector s1.
func NewDKIMKey(t T, domain string) *DKIMKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return &DKIMKey{Domain: domain, Selector: "s1", Key: k}
}

// Zone is the zone name to give UnboundConfig.Zones for Record.
func (k *DKIMKey) Zone() string { return k.Domain + "." }

// Record is the key's TXT record (RFC 6376 section 3.6.1), in strings of
// at most 255 bytes as DNS wants them.
func (k *DKIMKey) Record() string {
	der, _ := x509.MarshalPKIXPublicKey(&k.Key.PublicKey)
	v := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return fmt.Sprintf("%s._domainkey.%s. TXT %s", k.Selector, k.Domain, strings.Join(parts, " "))
}

// Sign returns msg with the key's DKIM-Signature (relaxed/relaxed) on top,
// claiming domain d (k.Domain when ""): another d= is a forgery.
func (k *DKIMKey) Sign(t T, msg []byte, d string) []byte {
	t.Helper()
	return k.SignHeaders(t, msg, d)
}

// SignHeaders is Sign covering only the header fields named (h=; none
// named: every field of msg), as a signer that leaves some out does.
func (k *DKIMKey) SignHeaders(t T, msg []byte, d string, names ...string) []byte {
	t.Helper()
	if d == "" {
		d = k.Domain
	}
	var b bytes.Buffer
	err := dkim.Sign(&b, bytes.NewReader(msg), &dkim.SignOptions{Domain: d, Selector: k.Selector, Signer: k.Key, HeaderKeys: names,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed})
	if err != nil {
		t.Fatalf("dkim: %v", err)
	}
	return b.Bytes()
}
