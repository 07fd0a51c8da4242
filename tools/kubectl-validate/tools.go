//go:build tools

// Package tools pins kubectl-validate for scripts/chart-check.sh.
package tools

import _ "sigs.k8s.io/kubectl-validate"
