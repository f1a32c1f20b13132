package hotpath

import "fmt"

// ConfigError is a Config or InodeConfig field out of range. Field is the
// Go field name ("FileSize", "Threads"): hotpath knows no command line,
// and cmd/lockbench puts its flag's name in front of Msg.
type ConfigError struct {
	Field string
	Msg   string // "must be at least 1, got 0"
}

func (e *ConfigError) Error() string { return e.Field + " " + e.Msg }

// configErrorf returns a *ConfigError of field.
func configErrorf(field, format string, args ...any) error {
	return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
