package web

import "github.com/careloop/careloop/internal/platform/errs"

// StepUpMessage is what a sensitive change without a fresh second factor
// is told, for the catalog's test.
var StepUpMessage = errs.MessageOf(stepUpRequired())
