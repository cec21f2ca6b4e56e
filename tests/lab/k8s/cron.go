// cron.go: the CronJob schedule syntax the API server accepts, which is
// github.com/robfig/cron/v3's ParseStandard: five fields (minute, hour, day
// of month, month, day of week) of *, ?, numbers or names, ranges a-b,
// steps /n and lists, or a descriptor (@hourly ... @yearly, @every
// DURATION). The errors are that parser's texts, which the server puts in
// its 422 answer.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

type cronBounds struct {
	min, max int
	names    map[string]int
}

var cronFields = []cronBounds{
	{0, 59, nil},
	{0, 23, nil},
	{1, 31, nil},
	{1, 12, map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
		"sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{0, 6, map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

var cronDescriptors = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true,
	"@daily": true, "@midnight": true, "@hourly": true}

// parseCron returns nil for a schedule ParseStandard accepts.
func parseCron(spec string) error {
	if spec == "" {
		return fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i, eq := strings.Index(spec, " "), strings.Index(spec, "=")
		if i < 0 {
			i = len(spec)
		}
		if _, err := time.LoadLocation(spec[eq+1 : i]); err != nil {
			return fmt.Errorf("provided bad location %s: %v", spec[eq+1:i], err)
		}
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return fmt.Errorf("expected exactly %d fields, found %d: %s", len(cronFields), len(fields), fields)
	}
	for i, f := range fields {
		for _, expr := range strings.Split(f, ",") {
			if err := cronRange(expr, cronFields[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseDescriptor(spec string) error {
	if cronDescriptors[spec] {
		return nil
	}
	if strings.HasPrefix(spec, "@every ") {
		if _, err := time.ParseDuration(spec[len("@every "):]); err != nil {
			return fmt.Errorf("failed to parse duration %s: %s", spec, err)
		}
		return nil
	}
	return fmt.Errorf("unrecognized descriptor: %s", spec)
}

// cronRange checks one list element: *, ?, N, N-M, with an optional /STEP.
func cronRange(expr string, b cronBounds) error {
	rangeAndStep := strings.Split(expr, "/")
	lowHigh := strings.Split(rangeAndStep[0], "-")
	var start, end int
	var err error
	if lowHigh[0] == "*" || lowHigh[0] == "?" {
		start, end = b.min, b.max
	} else {
		if start, err = cronInt(lowHigh[0], b.names); err != nil {
			return err
		}
		switch len(lowHigh) {
		case 1:
			end = start
		case 2:
			if end, err = cronInt(lowHigh[1], b.names); err != nil {
				return err
			}
		default:
			return fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	step := 1
	switch len(rangeAndStep) {
	case 1:
	case 2:
		if step, err = cronInt(rangeAndStep[1], nil); err != nil {
			return err
		}
		if len(lowHigh) == 1 { /* "N/step" means "N-max/step" */
			end = b.max
		}
	default:
		return fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return nil
}

func cronInt(expr string, names map[string]int) (int, error) {
	if n, ok := names[strings.ToLower(expr)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", expr, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return n, nil
}
