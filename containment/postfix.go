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
// releases and deletes. postsuper needs root: a milterd that is not root
// runs it through "sudo -n", which the sudoers line installed by make
// install allows for exactly "postsuper -c CONFIG_DIR -h|-H|-d -" (the ids
// on stdin, never on the command line).
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

// super runs postsuper with op on ids, read from stdin ("-").
func (p *Postfix) super(ctx context.Context, op string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	argv := []string{"postsuper", "-c", p.ConfigDir, op, "-"}
	if os.Geteuid() != 0 {
		argv = append([]string{"sudo", "-n"}, argv...)
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
