#!/bin/sh
# Writes this pod's Postfix configuration under /run/postfix (the root filesystem is read-only) from
# the environment the chart sets, then runs Postfix in the foreground so the pod lives as long as it.
#   POSTFIX_MYHOSTNAME   the name the sending IP's PTR record points at (HELO, Received headers)
#   POSTFIX_MYHOSTNAMES  optional comma-separated list, one per StatefulSet pod: entry <ordinal of
#                        POD_NAME> wins over POSTFIX_MYHOSTNAME (pod N sends from sending IP N)
#   POSTFIX_MYNETWORKS   who may relay through it besides loopback: the cluster's pod CIDR(s)
#   POSTFIX_RELAYHOST    optional smarthost, e.g. [smtp.example.com]:587
set -eu
hostname="${POSTFIX_MYHOSTNAME:?POSTFIX_MYHOSTNAME is required}"
if [ -n "${POSTFIX_MYHOSTNAMES:-}" ] && [ -n "${POD_NAME:-}" ]; then
  ordinal="${POD_NAME##*-}"
  picked="$(echo "$POSTFIX_MYHOSTNAMES" | cut -d, -f"$((ordinal + 1))")"
  [ -n "$picked" ] && hostname="$picked"
fi
conf=/run/postfix
mkdir -p "$conf"
cp /etc/postfix/main.cf /etc/postfix/master.cf "$conf/"
postconf -c "$conf" -e \
  "myhostname = $hostname" \
  "mynetworks = 127.0.0.0/8 ${POSTFIX_MYNETWORKS:-}" \
  "relayhost = ${POSTFIX_RELAYHOST:-}"
exec postfix -c "$conf" start-fg
