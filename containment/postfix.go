package containment

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Postfix is a Postfix queue: postqueue(1) lists it, postsuper(1) holds,
// releases and deletes. postsuper needs root: a milterctl that is not root
// runs "sudo -n Helper hold|release|delete" instead, the root-owned helper
// make install puts beside the sudoers line that allows exactly those
// three calls (etc/libexec/outguard-postsuper): it checks each id on its
// stdin and runs postsuper on its own fixed config directory.
type Postfix struct {
	ConfigDir string // e.g. /etc/postfix
}

// List runs "postqueue -c DIR -j": one JSON object per message (Postfix
// 3.1 and later).
func (p *Postfix) List(ctx context.Context) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "postqueue", "-c", p.ConfigDir, "-j").Output()
	if err != nil {
		return nil, fmt.Errorf("postqueue -c %s -j: %v%s", p.ConfigDir, err, stderr(err))
	}
	q := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20) // a message with many recipients is one long line
	for sc.Scan() {
		var m struct {
			Queue string `json:"queue_name"`
			ID    string `json:"queue_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("postqueue -j: %w", err)
		}
		q[m.ID] = m.Queue
	}
	return q, sc.Err()
}

func (p *Postfix) Hold(ctx context.Context, ids []string) error    { return p.super(ctx, "-h", ids) }
func (p *Postfix) Release(ctx context.Context, ids []string) error { return p.super(ctx, "-H", ids) }
func (p *Postfix) Delete(ctx context.Context, ids []string) error  { return p.super(ctx, "-d", ids) }

// Helper is where make install puts the helper the sudoers line allows.
const Helper = "/usr/lib/outguard/outguard-postsuper"

// helperOp is the helper's word for each of postsuper's options.
var helperOp = map[string]string{"-h": "hold", "-H": "release", "-d": "delete"}

// super runs postsuper with op on ids, read from stdin ("-"): itself as
// root, through the helper otherwise.
func (p *Postfix) super(ctx context.Context, op string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	argv := []string{"postsuper", "-c", p.ConfigDir, op, "-"}
	if os.Geteuid() != 0 {
		argv = []string{"sudo", "-n", Helper, helperOp[op]}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return ": " + string(bytes.TrimSpace(ee.Stderr))
	}
	return ""
}
