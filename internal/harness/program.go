package harness

import (
	"fmt"
	"os"
)

// Program is a T for commands that are not tests (the demo, the
// benchmark): a failure prints, runs the cleanups and exits 1.
type Program struct {
	Name     string
	cleanups []func()
}

func (p *Program) Helper()                         {}
func (p *Program) Logf(format string, args ...any) {}
func (p *Program) Cleanup(f func())                { p.cleanups = append(p.cleanups, f) }

func (p *Program) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, p.Name+" failed: "+format+"\n", args...)
	p.Close()
	os.Exit(1)
}

// Close runs the cleanups, last first: stops what the program started.
func (p *Program) Close() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
}
