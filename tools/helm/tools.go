//go:build tools

// Package tools pins the chart tooling built by scripts/chart-check.sh.
package tools

import (
	_ "github.com/helm-unittest/helm-unittest/cmd/helm-unittest"
	_ "helm.sh/helm/v3/cmd/helm"
)
