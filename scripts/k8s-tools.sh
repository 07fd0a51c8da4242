#!/usr/bin/env bash
# Builds the chart's Go tools from the wrapper modules under tools/ (pinned by their go.mod/go.sum)
# and prints the directory holding them. Each binary is cached outside the clone under
# ${MAUNTIC_CACHE:-~/.cache/mauntic}/k8s/store/<name>-<hash of its module's go.mod and go.sum, the
# package, the link flags and the Go version>, so a fresh machine builds from scratch (~12 min on
# 2 cores), later runs reuse them, and changing one tool rebuilds only that one.
#   bin=$(bash scripts/k8s-tools.sh)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${MAUNTIC_CACHE:-$HOME/.cache/mauntic}/k8s"
mkdir -p "$cache/store" "$cache/bin"

# build <module dir under tools/> <output name> <package> [ldflags]
build() {
	local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" key
	key="$(cat "$root/tools/$dir/go.mod" "$root/tools/$dir/go.sum" <(echo "$pkg $ldflags") <(go version) | sha256sum | cut -c1-16)"
	if [[ ! -x "$cache/store/$out-$key" ]]; then
		echo "building $out (tools/$dir)..." >&2
		(cd "$root/tools/$dir" && nice -n 10 go build -trimpath -ldflags "-s -w $ldflags" -o "$cache/store/$out-$key.tmp" "$pkg")
		mv "$cache/store/$out-$key.tmp" "$cache/store/$out-$key"
	fi
	ln -sfn "$cache/store/$out-$key" "$cache/bin/$out"
}

module_version() { awk -v m="$2" '$1 == m {print $2} $1 == "require" && $2 == m {print $3}' "$root/tools/$1/go.mod" | head -1; }
k8s_version="$(module_version k8s k8s.io/kubernetes)"
helm_version="$(module_version helm helm.sh/helm/v3)"
minor="${k8s_version#v1.}"
minor="${minor%%.*}"

# Without these stamps helm takes Kubernetes to be v1.20 (Chart.yaml's kubeVersion then fails in
# `helm template`, `helm lint` and helm-unittest), and the servers say v0.0.0-master.
helm_k8s="-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
helm_k8s+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

build helm helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$helm_version $helm_k8s"
build helm helm-unittest github.com/helm-unittest/helm-unittest/cmd/helm-unittest "$helm_k8s"
build kubectl-validate kubectl-validate sigs.k8s.io/kubectl-validate
build k8s etcd go.etcd.io/etcd/server/v3
build k8s kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags"
build k8s kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_ldflags"
echo "$cache/bin"
