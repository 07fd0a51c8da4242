#!/bin/sh
# Writes one sending instance's Postfix configuration (main.cf, master.cf and its lookup tables)
# into a folder, from Debian's defaults, mail-stack/postfix/ (what every instance shares) and the
# environment below (what makes this instance the one for its IP). Used by the Postfix image's
# entrypoint (docker/postfix) and by scripts/services.sh (two instances on 127.0.0.2/.3 for tests).
# Start the instance afterwards with `postfix -c <folder> start` (or start-fg).
#
#   MAILSTACK_CONFIG_DIR     the folder to write (required)
#   MAILSTACK_HOSTNAME       myhostname: the name the sending IP's PTR record points at (required)
#   MAILSTACK_SENDING_IP     smtp_bind_address: the source address of outgoing mail (optional)
#   MAILSTACK_LISTEN         where smtpd listens, host:port (default: all interfaces, port 25)
#   MAILSTACK_MYNETWORKS     who may relay besides loopback (e.g. the pod CIDRs)
#   MAILSTACK_RELAYHOST      optional smarthost, e.g. [smtp.example.com]:587
#   MAILSTACK_LMTP           host:port of the delivery service's inbound LMTP endpoint; mail to a
#                            return-path domain (bounces, complaints) is handed to it
#   MAILSTACK_BOUNCE_DOMAINS return-path domains besides bounces.* (comma-separated)
#   MAILSTACK_QUEUE_DIR      queue folder (default /var/spool/postfix)
#   MAILSTACK_DATA_DIR       data folder (default /var/lib/postfix)
#   MAILSTACK_LOG            maillog_file (default /dev/stdout)
#   MAILSTACK_TLS_CERT, MAILSTACK_TLS_KEY   PEM files: offer STARTTLS to senders
#   MAILSTACK_EXTRA_TRANSPORTS a regexp transport table consulted first (tests route test domains)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${MAILSTACK_CONFIG_DIR:?MAILSTACK_CONFIG_DIR is required}
hostname=${MAILSTACK_HOSTNAME:?MAILSTACK_HOSTNAME is required}
listen=${MAILSTACK_LISTEN:-smtp}

mkdir -p "$dir"
cp /usr/share/postfix/main.cf.debian "$dir/main.cf"
cp /usr/share/postfix/master.cf.dist "$dir/master.cf"
cp "$here/postfix/provider-groups.regexp" "$dir/provider-groups.regexp"

# The shared settings, one `name = value` line at a time.
grep -Ev '^[[:space:]]*(#|$)' "$here/postfix/main.cf" | while IFS= read -r line; do
  postconf -c "$dir" -e "$line"
done
# master.cf: the provider-group transports, no chroot (nothing is copied into the queue folder),
# and smtpd on this instance's address only.
grep -Ev '^[[:space:]]*(#|$)' "$here/postfix/master.cf" >>"$dir/master.cf"
postconf -c "$dir" -F '*/*/chroot = n'
postconf -c "$dir" -MX smtp/inet
postconf -c "$dir" -M "$listen/inet=$listen inet n - n - - smtpd"

# Return-path domains: accepted from anywhere (remote MTAs send bounces and complaints there) and
# handed to the delivery service by LMTP, which links each to its message by the VERP address.
escape() { printf '%s' "$1" | sed 's/[.[\*^$()+?{}|]/\\&/g'; }
: >"$dir/bounce-domains.regexp"
: >"$dir/bounce-transport.regexp"
if [ -n "${MAILSTACK_LMTP:-}" ]; then
  echo '/^bounces\./ OK' >>"$dir/bounce-domains.regexp"
  echo "/@bounces\\.[^@]+\$/ lmtp:inet:$MAILSTACK_LMTP" >>"$dir/bounce-transport.regexp"
  for domain in $(echo "${MAILSTACK_BOUNCE_DOMAINS:-}" | tr ',' ' '); do
    echo "/^$(escape "$domain")\$/ OK" >>"$dir/bounce-domains.regexp"
    echo "/@$(escape "$domain")\$/ lmtp:inet:$MAILSTACK_LMTP" >>"$dir/bounce-transport.regexp"
  done
fi
transports="regexp:$dir/bounce-transport.regexp, regexp:$dir/provider-groups.regexp"
if [ -n "${MAILSTACK_EXTRA_TRANSPORTS:-}" ]; then
  cp "$MAILSTACK_EXTRA_TRANSPORTS" "$dir/extra-transports.regexp"
  transports="regexp:$dir/extra-transports.regexp, $transports"
fi

case "$listen" in *:*) interface=${listen%:*} ;; *) interface=all ;; esac
postconf -c "$dir" -e \
  "myhostname = $hostname" \
  "smtp_bind_address = ${MAILSTACK_SENDING_IP:-}" \
  "inet_interfaces = $interface" \
  "mynetworks = 127.0.0.0/8 ${MAILSTACK_MYNETWORKS:-}" \
  "relayhost = ${MAILSTACK_RELAYHOST:-}" \
  "relay_domains = regexp:$dir/bounce-domains.regexp" \
  "transport_maps = $transports" \
  "queue_directory = ${MAILSTACK_QUEUE_DIR:-/var/spool/postfix}" \
  "data_directory = ${MAILSTACK_DATA_DIR:-/var/lib/postfix}" \
  "maillog_file = ${MAILSTACK_LOG:-/dev/stdout}"
if [ -n "${MAILSTACK_TLS_CERT:-}" ]; then
  postconf -c "$dir" -e "smtpd_tls_cert_file = $MAILSTACK_TLS_CERT" \
    "smtpd_tls_key_file = ${MAILSTACK_TLS_KEY:?MAILSTACK_TLS_KEY goes with MAILSTACK_TLS_CERT}" \
    'smtpd_tls_security_level = may'
fi
