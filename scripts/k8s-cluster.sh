#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the chart's tests: etcd, kube-apiserver and
# kube-controller-manager built by scripts/k8s-tools.sh (no kubelet, scheduler or images: Pods are
# created and stay Pending). Sourced by scripts/chart-check.sh:
#   source scripts/k8s-cluster.sh; cluster_up <bin dir> <work dir>; ...; cluster_down
# cluster_up exports KUBECONFIG (an admin client cert). Ports: MAUNTIC_K8S_PORT (kube-apiserver,
# default 16443: below the ephemeral range outgoing connections take ports from), etcd on that +1/+2,
# the controller-manager's health on +3; all on 127.0.0.1.

cluster_pids=()

# cluster_cert <name> <subject> [extensions]: a key and a certificate signed by the cluster's CA.
cluster_cert() {
	local dir="$cluster_dir/pki" name="$1" subject="$2" ext="${3:-}"
	openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
	if [[ -n "$ext" ]]; then
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
			-extfile <(printf '%s' "$ext") -out "$dir/$name.crt" 2>/dev/null
	else
		openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
			-out "$dir/$name.crt" 2>/dev/null
	fi
}

cluster_kubeconfig() { # <file> <user cert name>
	local pki="$cluster_dir/pki"
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster: {server: "https://127.0.0.1:$cluster_port", certificate-authority: "$pki/ca.crt"}
users:
  - name: user
    user: {client-certificate: "$pki/$2.crt", client-key: "$pki/$2.key"}
contexts:
  - name: local
    context: {cluster: local, user: user}
current-context: local
EOF
}

cluster_up() {
	local bin="$1"
	cluster_dir="$2"
	cluster_port="${MAUNTIC_K8S_PORT:-16443}"
	# Move past ports something else listens on (another run, a server still shutting down).
	local p
	for p in 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$((cluster_port + p))") 2>/dev/null; then cluster_port=$((cluster_port + 10)); fi
	done
	local etcd_client=$((cluster_port + 1)) etcd_peer=$((cluster_port + 2)) cm_port=$((cluster_port + 3))
	local pki="$cluster_dir/pki" logs="$cluster_dir/logs"
	mkdir -p "$pki" "$logs" "$cluster_dir/etcd"

	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -subj "/CN=mauntic-test-ca" -days 1 -out "$pki/ca.crt" 2>/dev/null
	cluster_cert apiserver "/CN=kube-apiserver" \
		"subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cluster_cert admin "/O=system:masters/CN=admin"
	cluster_cert controller-manager "/CN=system:kube-controller-manager"
	openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
	openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
	cluster_kubeconfig "$cluster_dir/admin.kubeconfig" admin
	cluster_kubeconfig "$cluster_dir/controller-manager.kubeconfig" controller-manager
	export KUBECONFIG="$cluster_dir/admin.kubeconfig"

	"$bin/etcd" --name test --data-dir "$cluster_dir/etcd" --unsafe-no-fsync \
		--listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
		--listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
		--initial-cluster "test=http://127.0.0.1:$etcd_peer" >"$logs/etcd.log" 2>&1 &
	cluster_pids+=($!)

	# --endpoint-reconciler-type=none: the kubernetes Endpoints would refuse a loopback address.
	"$bin/kube-apiserver" --bind-address=127.0.0.1 --secure-port="$cluster_port" --advertise-address=127.0.0.1 \
		--etcd-servers="http://127.0.0.1:$etcd_client" \
		--tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
		--service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC --endpoint-reconciler-type=none \
		>"$logs/kube-apiserver.log" 2>&1 &
	cluster_pids+=($!)

	local i
	for i in $(seq 1 120); do
		[[ "$(kubectl get --raw /readyz 2>/dev/null)" == ok ]] && break
		sleep 1
	done
	[[ "$(kubectl get --raw /readyz 2>/dev/null)" == ok ]] || {
		echo "kube-apiserver did not become ready; last lines of its log:" >&2
		tail -20 "$logs/kube-apiserver.log" >&2
		return 1
	}

	"$bin/kube-controller-manager" --kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$cluster_dir/controller-manager.kubeconfig" \
		--leader-elect=false --controllers='*' --use-service-account-credentials=true \
		--service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
		--cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
		--service-cluster-ip-range=10.0.0.0/24 --bind-address=127.0.0.1 --secure-port="$cm_port" \
		>"$logs/kube-controller-manager.log" 2>&1 &
	cluster_pids+=($!)
	kubectl version 2>/dev/null | grep -i server >&2 || true
}

cluster_down() {
	local pid
	for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	# kube-apiserver's graceful shutdown can outlast the run: give it 10 s, then end it.
	local alive
	for _ in $(seq 1 10); do
		alive=""
		for pid in "${cluster_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[[ -n "$alive" ]] || break
		sleep 1
	done
	for pid in "${cluster_pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	for pid in "${cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	cluster_pids=()
}

# Marks every unfinished Helm hook Job of <namespace> complete through its status subresource:
# nothing runs Pods here, and Helm waits for hook Jobs to finish. Loops until killed.
cluster_complete_hook_jobs() {
	local ns="$1" job started now
	while true; do
		# name and startTime of each hook Job not yet succeeded (the Job controller may have set startTime, which is then immutable)
		while read -r job started; do
			[[ -n "$job" ]] || continue
			now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
			kubectl -n "$ns" patch job "$job" --subresource=status --type=merge -p "{\"status\":{
				\"startTime\":\"${started:-$now}\",\"completionTime\":\"$now\",\"succeeded\":1,\"active\":0,\"ready\":0,
				\"conditions\":[
					{\"type\":\"SuccessCriteriaMet\",\"status\":\"True\",\"lastProbeTime\":\"$now\",\"lastTransitionTime\":\"$now\"},
					{\"type\":\"Complete\",\"status\":\"True\",\"lastProbeTime\":\"$now\",\"lastTransitionTime\":\"$now\"}]}}" \
				>/dev/null 2>>"$cluster_dir/logs/hook-jobs.log" && echo "$ns/$job" >>"$cluster_dir/hook-jobs-completed"
		done < <(kubectl -n "$ns" get jobs -o jsonpath='{range .items[?(@.metadata.annotations.helm\.sh/hook)]}{.metadata.name}{" "}{.status.succeeded}{" "}{.status.startTime}{"\n"}{end}' 2>/dev/null | awk '$2 !~ /^[0-9]+$/ {print $1, $2}')
		sleep 0.5
	done
}
