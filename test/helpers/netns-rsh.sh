#!/bin/sh
# An rsh agent for tests (ringrun --rsh): runs a command "on a host" that is a network namespace of
# this machine, the way `ssh HOST COMMAND...` runs it on a remote one (the words are joined with
# spaces and handed to sh, as sshd does).
# Usage: netns-rsh.sh NAMESPACE COMMAND...
if [ "$#" -lt 2 ]; then
  echo "usage: $0 NAMESPACE COMMAND..." >&2
  exit 255
fi
ns="$1"
shift
exec ip netns exec "$ns" sh -c "$*"
