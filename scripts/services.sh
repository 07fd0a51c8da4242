#!/usr/bin/env bash
# Installs if missing, starts and checks the real services the tests and benchmarks use,
# all on 127.0.0.1: PostgreSQL 15 and Redis 7 (Debian packages), a single-node Apache
# Kafka broker in KRaft mode (jars from Maven Central, run on the machine's Java), and the
# mail stack from Debian's postfix package: Postfix's `smtp-sink` (accepts and discards,
# port 2525) and a real Postfix MTA (port 2526) that relays everything to that sink, plus the mail
# stack's two sending instances (mail-stack/, one Postfix per sending IP: 127.0.0.2 and 127.0.0.3,
# port 2526); NSD (port 5300) serving the DNS test zones of the sending-domain and DKIM tests;
# Rspamd (port 11333) scoring template previews for spam.
#   scripts/services.sh up|down|status|env
#   scripts/services.sh up|down|restart postgres|redis|kafka   (one service; the fault benchmark)
# Idempotent: a service that already answers is left alone, and `down` leaves it running too (it
# stops only what `up` started); `down <service>` stops that one whatever started it.
# Other ports (MAUNTIC_PG_PORT, MAUNTIC_REDIS_PORT, MAUNTIC_KAFKA_PORT) with another
# MAUNTIC_SERVICES_DIR run private instances beside the default ones: Postgres as its own cluster
# (`mauntic<port>`), Redis and Kafka with their data in that folder. Fault tests restart those,
# never the shared ones. smtp-sink and Postfix stay shared.
# Installing needs root, or passwordless sudo; otherwise the script stops with an error.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${MAUNTIC_SERVICES_DIR:-$ROOT/.services}
PG_PORT=${MAUNTIC_PG_PORT:-5432}
REDIS_PORT=${MAUNTIC_REDIS_PORT:-6379}
KAFKA_PORT=${MAUNTIC_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))
SINK_PORT=${SMTP_SINK_PORT:-2525}
POSTFIX_PORT=${SMTP_POSTFIX_PORT:-2526}
DNS_PORT=${MAUNTIC_DNS_PORT:-5300}
PG_VERSION=15
# The default port is Debian's `main` cluster; any other port gets a cluster of its own.
if [ "$PG_PORT" = 5432 ]; then PG_CLUSTER=main; else PG_CLUSTER=mauntic$PG_PORT; fi

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$name did not answer within ${secs}s"
}

# Runs a command as root: directly when root, else through passwordless sudo, else stops.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "needs root or passwordless sudo to run: $*"; fi
}

APT_UPDATED=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -h 127.0.0.1 -p "$PG_PORT" -q; }

pg_up() {
  if command -v pg_isready >/dev/null && pg_ready; then log "postgres already answers on $PG_PORT"; else
    apt_install "postgresql-$PG_VERSION" postgresql-client-common
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VERSION $PG_CLUSTER"; then
      if [ "$PG_CLUSTER" = main ]; then pg_createcluster "$PG_VERSION" main >/dev/null
      else pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" >/dev/null; fi
    fi
    local conf=/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/mauntic.conf
    mkdir -p "$(dirname "$conf")"
    # Test and benchmark settings for a 2-core, 24 GiB machine. Durability is still on
    # (fsync) because the outbox tests kill processes mid-transaction.
    cat >"$conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_connections = 300
shared_buffers = 2GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
synchronous_commit = off
CONF
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start || pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    wait_for postgres 60 pg_ready
  fi
  # Superuser with a password for TCP connections; one database for the platform, one for tests.
  su postgres -c "psql -q -p $PG_PORT -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
  for db in mauntic mauntic_test; do
    PGPASSWORD=postgres psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
      PGPASSWORD=postgres psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $db" >/dev/null
  done
}

pg_down() { pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop 2>/dev/null || true; }

# Fast shutdown (open sessions are terminated, as in a failover) and start again.
pg_restart() {
  log "restarting postgres on $PG_PORT"
  pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart -m fast
  wait_for postgres 60 pg_ready
}

# ---------------------------------------------------------------------- Redis
redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping | grep -q PONG; }

redis_up() {
  if command -v redis-cli >/dev/null && redis_ready; then log "redis already answers on $REDIS_PORT"; return; fi
  apt_install redis-server
  mkdir -p "$STATE/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" \
    --save '' --appendonly no --maxmemory-policy noeviction \
    --logfile "$STATE/redis/redis.log" --pidfile "$STATE/redis/redis.pid" >/dev/null
  wait_for redis 30 redis_ready
}

redis_down() {
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 40); do redis_ready 2>/dev/null || return 0; sleep 0.25; done
}

# ---------------------------------------------------------------------- Kafka
KAFKA_DIR=$STATE/kafka
# The broker's jars: a private instance uses the default instance's when it has none.
KAFKA_LIBS=$KAFKA_DIR/libs
if [ ! -f "$KAFKA_LIBS/.complete" ] && [ -f "$ROOT/.services/kafka/libs/.complete" ]; then
  KAFKA_LIBS=$ROOT/.services/kafka/libs
fi

kafka_ready() { port_open "$KAFKA_PORT"; }

kafka_up() {
  if kafka_ready; then log "kafka already answers on $KAFKA_PORT"; return; fi
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  mkdir -p "$KAFKA_DIR"
  if [ ! -f "$KAFKA_LIBS/.complete" ]; then
    command -v mvn >/dev/null || apt_install maven
    log "fetching Kafka jars from Maven Central"
    rm -rf "$KAFKA_LIBS"
    mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIBS" >/dev/null || die "could not fetch the Kafka jars"
    touch "$KAFKA_LIBS/.complete"
  fi
  cat >"$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
PROPS
  cat >"$KAFKA_DIR/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
  local cp="$KAFKA_LIBS/*"
  local jopts=(-Xms256m -Xmx1g -Dkafka.logs.dir="$KAFKA_DIR" -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties")
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid)
    java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$KAFKA_DIR/server.properties" >/dev/null
  fi
  log "starting kafka"
  nohup java "${jopts[@]}" -cp "$cp" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$KAFKA_DIR/stdout.log" 2>&1 &
  echo $! >"$KAFKA_DIR/kafka.pid"
  wait_for kafka 180 kafka_ready
}

kafka_down() {
  if [ -f "$KAFKA_DIR/kafka.pid" ]; then
    local pid
    pid=$(cat "$KAFKA_DIR/kafka.pid")
    kill "$pid" 2>/dev/null || true
    # Wait for the broker to finish its controlled shutdown, so a following `up` starts a new one
    # instead of finding the old one still answering.
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    rm -f "$KAFKA_DIR/kafka.pid"
  fi
}

# ----------------------------------------------------------------------- Mail
# Debian's postfix package gives the MTA and its test tools (smtp-sink, smtp-source).
MAIL_DIR=$STATE/mail
POSTFIX_LOG=/var/log/postfix-mauntic.log # maillog_file must sit under /var (maillog_file_prefixes)

postfix_install() {
  dpkg -s postfix >/dev/null 2>&1 && return 0
  # "No configuration": install without the interactive debconf questions and without a main.cf.
  echo 'postfix postfix/main_mailer_type select No configuration' | as_root debconf-set-selections
  apt_install postfix
}

# smtp-sink: accepts every message and throws it away; the benchmarks' target.
sink_ready() { port_open "$SINK_PORT"; }

sink_up() {
  if sink_ready; then log "smtp-sink already answers on $SINK_PORT"; return; fi
  postfix_install
  mkdir -p "$MAIL_DIR"
  # -u nobody: required when started as root (drops privileges after binding).
  # -4: IPv4 only (we listen on 127.0.0.1). -m 1000: up to 1000 simultaneous sessions
  # (default 256) so wide connection pools never queue in the kernel. Backlog 1000: listen(2)
  # queue for bursts of new connections (smtp-source opens one per message).
  # No -c (running counters on stdout) nor -d/-D (dumps): both cost per message.
  local user=()
  [ "$(id -u)" = 0 ] && user=(-u nobody)
  log "starting smtp-sink on 127.0.0.1:$SINK_PORT"
  # setsid: its own session, so killing the caller's process group does not take it down.
  setsid /usr/sbin/smtp-sink "${user[@]}" -4 -m 1000 "127.0.0.1:$SINK_PORT" 1000 \
    </dev/null >"$MAIL_DIR/smtp-sink.log" 2>&1 &
  echo $! >"$MAIL_DIR/smtp-sink.pid"
  wait_for smtp-sink 10 sink_ready
}

sink_down() {
  local pid
  pid=$(cat "$MAIL_DIR/smtp-sink.pid" 2>/dev/null) || return 0
  if grep -q smtp-sink "/proc/$pid/cmdline" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$MAIL_DIR/smtp-sink.pid"
}

# Postfix: a real MTA on 127.0.0.1:$POSTFIX_PORT that relays every message to the sink.
postfix_ready() { port_open "$POSTFIX_PORT"; }

postfix_up() {
  if postfix_ready; then log "postfix already answers on $POSTFIX_PORT"; return; fi
  postfix_install
  [ -f /etc/postfix/main.cf ] || as_root cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
  as_root postconf -e \
    'myhostname = mta.mauntic.localhost' \
    'mydestination =' \
    'local_recipient_maps =' \
    'local_transport = error:local delivery is disabled' \
    'alias_maps =' \
    'alias_database =' \
    "relayhost = [127.0.0.1]:$SINK_PORT" \
    'mynetworks = 127.0.0.0/8' \
    'inet_interfaces = 127.0.0.1' \
    'inet_protocols = ipv4' \
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
    'smtpd_peername_lookup = no' \
    "maillog_file = $POSTFIX_LOG"
  # master.cf: the only SMTP listener is 127.0.0.1:$POSTFIX_PORT (not port 25).
  local svc
  for svc in $(postconf -M | awk '$2 == "inet" && $8 == "smtpd" { print $1 }'); do
    as_root postconf -MX "$svc/inet"
  done
  as_root postconf -M "127.0.0.1:$POSTFIX_PORT/inet=127.0.0.1:$POSTFIX_PORT inet n - y - - smtpd"
  # Keep the log from growing without bound (about 6 lines per relayed message).
  if [ -f "$POSTFIX_LOG" ] && [ "$(stat -c %s "$POSTFIX_LOG")" -gt $((256 * 1024 * 1024)) ]; then
    as_root mv -f "$POSTFIX_LOG" "$POSTFIX_LOG.1"
  fi
  # What the systemd unit runs before starting: copies /etc files into the chroot.
  as_root /usr/lib/postfix/configure-instance.sh - >/dev/null
  # Running but not on our port (another configuration): restart, as inet_interfaces needs it.
  if as_root postfix status >/dev/null 2>&1; then
    log "restarting postfix (it did not answer on $POSTFIX_PORT)"
    as_root postfix stop >/dev/null 2>&1 || true
  fi
  log "starting postfix on 127.0.0.1:$POSTFIX_PORT"
  as_root postfix start >/dev/null 2>&1 || die "postfix did not start; see $POSTFIX_LOG"
  wait_for postfix 30 postfix_ready
}

postfix_down() {
  command -v postfix >/dev/null || return 0
  as_root postfix stop >/dev/null 2>&1 || true
}

# The mail stack's sending instances (mail-stack/configure.sh): one Postfix instance per sending
# address, 127.0.0.2 (mta1.mauntic.test) and 127.0.0.3 (mta2.mauntic.test), each listening on its
# own address (port $POSTFIX_PORT) and sending from it, relaying to the sink. Bounces and
# complaints to a return-path domain (bounces.*) go to the delivery service's LMTP endpoint on
# 127.0.0.1:$LMTP_PORT (the mail-stack test starts one there). For the tests only, mail to
# <name>.observe.mauntic.test goes to 127.0.0.1:$OBSERVE_PORT, where the test's SMTP server sees
# which address and name an instance sent from, and refuses the recipients it should bounce; mail
# to <name>.sidecar.mauntic.test goes to 127.0.0.1:$SIDECAR_OBSERVE_PORT (the sidecar's test).
MAILSTACK_IPS="127.0.0.2=mta1.mauntic.test 127.0.0.3=mta2.mauntic.test"
LMTP_PORT=${MAUNTIC_LMTP_PORT:-2530}
OBSERVE_PORT=${MAUNTIC_OBSERVE_PORT:-2529}
SIDECAR_OBSERVE_PORT=${MAUNTIC_SIDECAR_OBSERVE_PORT:-2531}

port_open_at() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

mailstack_ready() {
  local entry
  for entry in $MAILSTACK_IPS; do port_open_at "${entry%%=*}" "$POSTFIX_PORT" || return 1; done
}

mailstack_up() {
  postfix_install
  mkdir -p "$MAIL_DIR"
  local entry ip name conf dirs=
  for entry in $MAILSTACK_IPS; do dirs="$dirs /etc/postfix-mauntic-${entry%%=*}"; done
  # `postfix -c` takes only folders the default instance lists.
  as_root postconf -e "alternate_config_directories =$dirs"
  printf '%s\n' "/@[a-z]+\\.observe\\.mauntic\\.test\$/ smtp:[127.0.0.1]:$OBSERVE_PORT" \
    "/@[a-z]+\\.sidecar\\.mauntic\\.test\$/ smtp:[127.0.0.1]:$SIDECAR_OBSERVE_PORT" >"$MAIL_DIR/test-transports.regexp"
  for entry in $MAILSTACK_IPS; do
    ip=${entry%%=*} name=${entry#*=} conf=/etc/postfix-mauntic-$ip
    if port_open_at "$ip" "$POSTFIX_PORT"; then log "postfix $ip already answers on $POSTFIX_PORT"; continue; fi
    # Postfix listens only on addresses an interface has: give them to lo (it routes all of 127/8).
    if ! ip -4 addr show dev lo | grep -q "inet $ip/"; then
      as_root ip addr add "$ip/32" dev lo || die "could not add $ip to lo (needs CAP_NET_ADMIN)"
    fi
    as_root env MAILSTACK_CONFIG_DIR="$conf" MAILSTACK_HOSTNAME="$name" MAILSTACK_SENDING_IP="$ip" \
      MAILSTACK_LISTEN="$ip:$POSTFIX_PORT" MAILSTACK_RELAYHOST="[127.0.0.1]:$SINK_PORT" \
      MAILSTACK_LMTP="127.0.0.1:$LMTP_PORT" MAILSTACK_EXTRA_TRANSPORTS="$MAIL_DIR/test-transports.regexp" \
      MAILSTACK_QUEUE_DIR="/var/spool/postfix-mauntic-$ip" MAILSTACK_DATA_DIR="/var/lib/postfix-mauntic-$ip" \
      MAILSTACK_LOG="/var/log/postfix-mauntic-$ip.log" sh "$ROOT/mail-stack/configure.sh"
    # Postfix creates what is inside these itself (postfix-script's check), not the folders.
    as_root mkdir -p "/var/spool/postfix-mauntic-$ip" "/var/lib/postfix-mauntic-$ip"
    as_root chown postfix:postfix "/var/lib/postfix-mauntic-$ip"
    as_root postfix -c "$conf" stop >/dev/null 2>&1 || true
    log "starting postfix $ip on $ip:$POSTFIX_PORT ($name)"
    as_root postfix -c "$conf" start >/dev/null 2>&1 || die "postfix $ip did not start; see /var/log/postfix-mauntic-$ip.log"
  done
  wait_for "postfix instances" 30 mailstack_ready
}

mailstack_down() {
  command -v postfix >/dev/null || return 0
  local entry
  for entry in $MAILSTACK_IPS; do
    [ -d "/etc/postfix-mauntic-${entry%%=*}" ] && as_root postfix -c "/etc/postfix-mauntic-${entry%%=*}" stop >/dev/null 2>&1
  done
  return 0
}

# ---------------------------------------------------------------------- Rspamd
# Rspamd (Debian's rspamd) with its packaged configuration: the normal worker on 127.0.0.1:11333
# scores template previews for spam (DELIVERY_RSPAMD_URL). Offline it logs that it cannot fetch
# its online maps; the local rules still score.
RSPAMD_PORT=11333

rspamd_ready() { curl -sf "http://127.0.0.1:$RSPAMD_PORT/ping" >/dev/null; }

rspamd_up() {
  if rspamd_ready; then log "rspamd already answers on $RSPAMD_PORT"; return; fi
  apt_install rspamd curl
  local dir
  for dir in /run/rspamd /var/lib/rspamd /var/log/rspamd; do
    as_root mkdir -p "$dir"
    as_root chown _rspamd:_rspamd "$dir"
  done
  log "starting rspamd on 127.0.0.1:$RSPAMD_PORT"
  as_root rspamd -u _rspamd -g _rspamd </dev/null >/dev/null 2>&1 || die "rspamd did not start; see /var/log/rspamd/rspamd.log"
  wait_for rspamd 60 rspamd_ready
}

rspamd_down() {
  [ -f /run/rspamd/rspamd.pid ] && as_root kill "$(cat /run/rspamd/rspamd.pid)" 2>/dev/null
  return 0
}

# ------------------------------------------------------------------------ DNS
# NSD (Debian's nsd): an authoritative server on 127.0.0.1:$DNS_PORT for the test zones that the
# sending-domain and DKIM tests publish and check with a real resolver. A test writes
# `$DNS_DIR/zones/<zone>.zone` and adds or reloads it with `nsd-control -c $DNS_DIR/nsd.conf`
# (over a unix socket, so no control certificates are needed). The base zone names the two sending
# addresses (127.0.0.2, 127.0.0.3) and their PTR records.
DNS_DIR=$STATE/dns

dns_ready() { nsd-control -c "$DNS_DIR/nsd.conf" status >/dev/null 2>&1; }

dns_up() {
  apt_install nsd
  mkdir -p "$DNS_DIR/zones"
  if [ -f "$DNS_DIR/nsd.conf" ] && dns_ready; then log "nsd already answers on $DNS_PORT"; return; fi
  # Tests publish zones through this checkout's control socket: a server of another checkout will not do.
  port_open "$DNS_PORT" && die "port $DNS_PORT is taken by another DNS server (another checkout's nsd?): stop it, or set MAUNTIC_DNS_PORT"
  cat >"$DNS_DIR/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$DNS_PORT
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$DNS_DIR/zones"
  zonelistfile: "$DNS_DIR/zone.list"
  xfrdfile: "$DNS_DIR/xfrd.state"
  pidfile: "$DNS_DIR/nsd.pid"
  logfile: "$DNS_DIR/nsd.log"
  server-count: 1
  hide-version: yes
remote-control:
  control-enable: yes
  control-interface: "$DNS_DIR/nsd.ctl"
pattern:
  name: mauntic
  zonefile: "$DNS_DIR/zones/%s.zone"
zone:
  name: mauntic.test
  include-pattern: mauntic
zone:
  name: 0.0.127.in-addr.arpa
  include-pattern: mauntic
CONF
  local soa='@ 3600 IN SOA ns.mauntic.test. hostmaster.mauntic.test. 1 3600 600 86400 60'
  printf '%s\n' '$ORIGIN mauntic.test.' "$soa" '@ IN NS ns' 'ns IN A 127.0.0.1' \
    'mta1 IN A 127.0.0.2' 'mta2 IN A 127.0.0.3' 'inbound IN A 127.0.0.1' >"$DNS_DIR/zones/mauntic.test.zone"
  printf '%s\n' '$ORIGIN 0.0.127.in-addr.arpa.' "$soa" '@ IN NS ns.mauntic.test.' \
    '2 IN PTR mta1.mauntic.test.' '3 IN PTR mta2.mauntic.test.' >"$DNS_DIR/zones/0.0.127.in-addr.arpa.zone"
  log "starting nsd on 127.0.0.1:$DNS_PORT"
  nsd -c "$DNS_DIR/nsd.conf" || die "nsd did not start; see $DNS_DIR/nsd.log"
  wait_for nsd 20 dns_ready
}

dns_down() {
  [ -f "$DNS_DIR/nsd.conf" ] && nsd-control -c "$DNS_DIR/nsd.conf" stop >/dev/null 2>&1 || true
}

print_env() {
  echo "DATABASE_URL=postgres://postgres:postgres@127.0.0.1:$PG_PORT/mauntic"
  echo "TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:$PG_PORT/mauntic_test"
  echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
  echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "SMTP_SINK_URL=smtp://127.0.0.1:$SINK_PORT"
  echo "SMTP_POSTFIX_URL=smtp://127.0.0.1:$POSTFIX_PORT"
  echo "MAIL_STACK_INSTANCES=$(echo "$MAILSTACK_IPS" | sed "s/=\([^ ]*\)/:$POSTFIX_PORT=\1/g; s/ /,/g")"
  echo "MAIL_STACK_LMTP_PORT=$LMTP_PORT"
  echo "MAIL_STACK_OBSERVE_PORT=$OBSERVE_PORT"
  echo "MAIL_STACK_SIDECAR_OBSERVE_PORT=$SIDECAR_OBSERVE_PORT"
  echo "DNS_TEST_SERVER=127.0.0.1:$DNS_PORT"
  echo "RSPAMD_TEST_URL=http://127.0.0.1:$RSPAMD_PORT"
  echo "DNS_TEST_CONTROL=$DNS_DIR/nsd.conf"
}

status() {
  local rc=0
  if pg_ready 2>/dev/null; then echo "postgres  up    127.0.0.1:$PG_PORT"; else echo "postgres  down"; rc=1; fi
  if redis_ready 2>/dev/null; then echo "redis     up    127.0.0.1:$REDIS_PORT"; else echo "redis     down"; rc=1; fi
  if kafka_ready; then echo "kafka     up    127.0.0.1:$KAFKA_PORT"; else echo "kafka     down"; rc=1; fi
  if sink_ready; then echo "smtp-sink up    127.0.0.1:$SINK_PORT"; else echo "smtp-sink down"; rc=1; fi
  if postfix_ready; then echo "postfix   up    127.0.0.1:$POSTFIX_PORT -> smtp-sink"; else echo "postfix   down"; rc=1; fi
  if mailstack_ready; then echo "mailstack up    127.0.0.2/.3:$POSTFIX_PORT (one Postfix per sending IP)"; else echo "mailstack down"; rc=1; fi
  if dns_ready; then echo "nsd       up    127.0.0.1:$DNS_PORT (test zones)"; else echo "nsd       down"; rc=1; fi
  if rspamd_ready; then echo "rspamd    up    127.0.0.1:$RSPAMD_PORT"; else echo "rspamd    down"; rc=1; fi
  return $rc
}

# `up` notes each service it started itself in $STARTED; `down` stops those alone, never one that
# `up` found already running (another user's, the machine's own Postgres or Postfix).
STARTED=$STATE/started-by-up

up_noting() { # service function prefix: pg, redis, kafka, sink, postfix, mailstack, dns, rspamd
  local fn=$1
  if "${fn}_ready" >/dev/null 2>&1; then "${fn}_up"; return; fi
  "${fn}_up"
  mkdir -p "$STATE"
  grep -qx "$fn" "$STARTED" 2>/dev/null || echo "$fn" >>"$STARTED"
}

down_noted() {
  if [ ! -f "$STARTED" ]; then log "up started no service here; nothing stopped"; return 0; fi
  for fn in rspamd dns mailstack postfix sink kafka redis pg; do
    if grep -qx "$fn" "$STARTED"; then log "stopping $fn"; "${fn}_down"; fi
  done
  rm -f "$STARTED"
}

# One of the services a fault test restarts, by name.
one() { # action, service
  case "$2" in
    postgres | redis | kafka | dns) ;;
    *) echo "usage: $0 up|down|restart postgres|redis|kafka|dns" >&2; exit 2 ;;
  esac
  local fn=${2/postgres/pg}
  case "$1" in
    up) "${fn}_up" ;;
    down) "${fn}_down" ;;
    restart) if [ "$2" = postgres ]; then pg_restart; else "${fn}_down"; "${fn}_up"; fi ;;
  esac
}

case "${1:-}" in
  up) if [ -n "${2:-}" ]; then one up "$2"; else for fn in pg redis kafka sink postfix mailstack dns rspamd; do up_noting "$fn"; done; status; fi ;;
  down) if [ -n "${2:-}" ]; then one down "$2"; else down_noted; fi ;;
  restart) one restart "${2:-}" ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 up|down|status|env, or up|down|restart postgres|redis|kafka" >&2; exit 2 ;;
esac
