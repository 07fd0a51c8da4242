#!/bin/sh
# Writes this pod's Postfix configuration under /run/postfix (the root filesystem is read-only)
# with mail-stack/configure.sh, from the environment the chart sets, then runs Postfix in the
# foreground so the pod lives as long as it.
#   POSTFIX_MYHOSTNAME   the name the sending IP's PTR record points at (HELO, Received headers)
#   POSTFIX_MYHOSTNAMES  optional comma-separated list, one per StatefulSet pod: entry <ordinal of
#                        POD_NAME> wins over POSTFIX_MYHOSTNAME (pod N sends from sending IP N)
#   POSTFIX_MYNETWORKS   who may relay through it besides loopback: the cluster's pod CIDR(s)
#   POSTFIX_RELAYHOST    optional smarthost, e.g. [smtp.example.com]:587
#   POSTFIX_LMTP         optional host:port of the delivery service's inbound LMTP endpoint, where
#                        bounces and complaints to the return-path domains go
#   POSTFIX_BOUNCE_DOMAINS optional return-path domains besides bounces.* (comma-separated)
#   POSTFIX_MAILLOG      where Postfix logs (default /dev/stdout; the chart's sidecar reads a file)
set -eu
hostname="${POSTFIX_MYHOSTNAME:?POSTFIX_MYHOSTNAME is required}"
if [ -n "${POSTFIX_MYHOSTNAMES:-}" ] && [ -n "${POD_NAME:-}" ]; then
  ordinal="${POD_NAME##*-}"
  picked="$(echo "$POSTFIX_MYHOSTNAMES" | cut -d, -f"$((ordinal + 1))")"
  [ -n "$picked" ] && hostname="$picked"
fi
MAILSTACK_CONFIG_DIR=/run/postfix MAILSTACK_HOSTNAME="$hostname" \
  MAILSTACK_MYNETWORKS="${POSTFIX_MYNETWORKS:-}" MAILSTACK_RELAYHOST="${POSTFIX_RELAYHOST:-}" \
  MAILSTACK_LMTP="${POSTFIX_LMTP:-}" MAILSTACK_BOUNCE_DOMAINS="${POSTFIX_BOUNCE_DOMAINS:-}" \
  MAILSTACK_LOG="${POSTFIX_MAILLOG:-/dev/stdout}" \
  sh /opt/mail-stack/configure.sh
exec postfix -c /run/postfix start-fg
