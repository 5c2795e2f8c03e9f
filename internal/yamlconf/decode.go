// Package yamlconf is the strict YAML both binaries' configs are read with:
// every unknown key, duplicate or bad value is an error naming the file,
// the line and the full key; and the value types their schemas share
// (durations with days, sizes, file modes, networks, socket addresses, the
// log and alert settings). Each binary keeps its own schema: milterd's in
// config, relayprobe's in probe.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Hooks let a schema keep its sections' defaults and one-word forms as
// unexported methods of its own types.
type Hooks struct {
	// Defaults fills a section (a pointer field) the file has, before its
	// keys are read, so that it starts from its defaults.
	Defaults func(section any)
	// Scalar decodes v, a struct the file writes as one word; ok is false
	// when v has no one-word form.
	Scalar func(v any, word string) (ok bool, err error)
}

// Decode decodes data (the file named name) strictly into v, a pointer to
// a struct that holds its defaults, then runs check, whose bad reports an
// error at a key's line. An unknown key, a duplicate or a bad value is an
// error naming the file, line and key.
func Decode(name string, data []byte, v any, hooks Hooks, check func(bad func(key, format string, args ...any) error) error) error {
	d := &decoder{file: name, lines: map[string]int{}, hooks: hooks}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		line, msg := yamlError(err)
		return &Error{File: name, Line: line, Msg: msg}
	}
	if len(doc.Content) > 0 {
		if err := d.decode(doc.Content[0], "", reflect.ValueOf(v).Elem()); err != nil {
			return err
		}
	}
	return check(func(key, format string, args ...any) error {
		return &Error{File: name, Line: d.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
	})
}

// Error is a config error at a place in the file.
type Error struct {
	File string
	Line int    // 0 when the problem is not at one line
	Key  string // dotted path, e.g. "clamd.addresses"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// decoder walks the YAML tree itself instead of relying on yaml.v3's struct
// decoding, so that every error names the file, line and full key.
type decoder struct {
	file  string
	lines map[string]int // key path -> line, for checks after decoding
	hooks Hooks
}

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// Removed is a field type standing for a key the schema no longer has:
// the key is refused whatever its value (a word, a null, a mapping, a
// list), with Removed's words saying what replaced it, so that an old
// config never loads with the setting silently gone.
type Removed interface{ Removed() string }

var removed = reflect.TypeFor[Removed]()

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) decode(n *yaml.Node, key string, v reflect.Value) error {
	if key != "" {
		d.lines[key] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		return d.errorf(n, key, "YAML aliases are not supported")
	}
	if v.Addr().Type().Implements(removed) {
		return d.errorf(n, key, "removed: %s", v.Addr().Interface().(Removed).Removed())
	}
	if v.Addr().Type().Implements(unmarshaler) {
		return d.leaf(n, key, v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Tag == "!!null" {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			// A section that is present starts from its defaults.
			if d.hooks.Defaults != nil {
				d.hooks.Defaults(v.Interface())
			}
		}
		return d.decode(n, key, v.Elem())
	case reflect.Struct:
		return d.mapping(n, key, v)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return d.errorf(n, key, "want a mapping")
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			e := reflect.New(v.Type().Elem()).Elem()
			if err := d.decode(val, join(key, k.Value), e); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, key, "want a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, fmt.Sprintf("%s[%d]", key, i), s.Index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	default:
		return d.leaf(n, key, v)
	}
}

func (d *decoder) mapping(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind == yaml.ScalarNode && d.hooks.Scalar != nil {
		if ok, err := d.hooks.Scalar(v.Addr().Interface(), n.Value); ok {
			if err != nil {
				return d.errorf(n, key, "%v", err)
			}
			return nil
		}
	}
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, key, "want a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		full := join(key, k.Value)
		if seen[k.Value] {
			return d.errorf(k, full, "duplicate key")
		}
		seen[k.Value] = true
		f, ok := field(v, k.Value)
		if !ok {
			if m, ok := inline(v); ok {
				// The schema checks these keys itself.
				e := reflect.New(m.Type().Elem()).Elem()
				if err := d.decode(val, full, e); err != nil {
					return err
				}
				m.SetMapIndex(reflect.ValueOf(k.Value), e)
				continue
			}
			return d.errorf(k, full, "unknown key")
		}
		if err := d.decode(val, full, f); err != nil {
			return err
		}
	}
	return nil
}

// inline finds the struct's map field tagged `yaml:",inline"`, which takes
// the keys no other field has (as yaml.v3 does), made if nil.
func inline(v reflect.Value) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Type.Kind() == reflect.Map && t.Field(i).Tag.Get("yaml") == ",inline" {
			m := v.Field(i)
			if m.IsNil() {
				m.Set(reflect.MakeMap(m.Type()))
			}
			return m, true
		}
	}
	return reflect.Value{}, false
}

var yamlErrPrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\s*)?(line (\d+): )?`)

// yamlError splits a yaml.v3 error into its line (0 if none) and message.
func yamlError(err error) (int, string) {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimSpace(msg)
	line := 0
	if m := yamlErrPrefix.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[4])
		msg = msg[len(m[0]):]
	}
	return line, msg
}

// leaf decodes a scalar through yaml.v3, or through the type's own
// UnmarshalYAML, and puts the place in front of its error.
func (d *decoder) leaf(n *yaml.Node, key string, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode && v.Kind() != reflect.Interface {
		return d.errorf(n, key, "want a single value")
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		_, msg := yamlError(err)
		return d.errorf(n, key, "%s", msg)
	}
	return nil
}

// field finds the struct field whose yaml tag is name.
func field(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		if t.Field(i).Anonymous && t.Field(i).Type.Kind() == reflect.Struct {
			if f, ok := field(v.Field(i), name); ok {
				return f, true
			}
			continue
		}
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == name && t.Field(i).IsExported() {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}
