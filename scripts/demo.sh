#!/usr/bin/env bash
# The main job: build and install warden, bring up a throwaway single-node
# Pacemaker cluster on this machine (corosync on 127.0.0.1), add an
# ocf:warden:daemon primitive with crm, show it running, kill the service and
# show Pacemaker recovering it. The cluster is left running.
#
#   scripts/demo.sh           run the demo
#   scripts/demo.sh --stop    stop the throwaway cluster (by PID)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--stop" ]; then
    exec test/cluster/lab.sh down
fi

scripts/deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
meson install -C build --quiet
echo "installed: $(ls /usr/lib/ocf/resource.d/warden/)  ->  /usr/lib/ocf/resource.d/warden/"

. test/cluster/lab.sh
if ! lab_up; then
    lab_down || true
    exit 1
fi

rsc=demo-daemon
echo
echo "\$ crm configure primitive $rsc ocf:warden:daemon params command=\"/bin/sleep infinity\" op monitor interval=5s timeout=20s"
lab_crm configure primitive $rsc ocf:warden:daemon \
    params command="/bin/sleep infinity" \
    op monitor interval=5s timeout=20s
lab_wait_for -t 60 lab_rsc_is $rsc Started
echo
echo "\$ crm_mon -1"
crm_mon -1

main_pid() { awk '/^main /{print $2}' /run/warden/$rsc/service 2>/dev/null; }
old=$(main_pid)
echo
echo "\$ kill -9 $old          # the service, behind Pacemaker's back"
kill -9 "$old"
t0=$(lab_now)
lab_wait_for -t 60 '[ -n "$(main_pid)" ] && [ "$(main_pid)" != "'"$old"'" ] && lab_rsc_is '$rsc' Started'
echo "Pacemaker recovered it: new pid $(main_pid), $(lab_elapsed "$t0") s after the kill" \
     "(found by the next monitor, interval 5s)."
echo
echo "\$ crm_mon -1 --include=failcounts"
crm_mon -1 --include=failcounts 2>/dev/null || crm_mon -1f

cat <<MSG

The cluster keeps running. Look around with:  crm_mon -1   crm configure show
Stop it (corosync and Pacemaker, by PID) with:  scripts/demo.sh --stop
MSG
