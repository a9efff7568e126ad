#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test/bench/storm.sh - a failure storm, measured (issue 10). Run by hand, as
# root, on a machine with no cluster running; it brings up the single-node
# lab (test/cluster/lab.sh) once per agent and tears it down.
#
#   test/bench/storm.sh [N] [AGENTS]      defaults: 100 "warden anything"
#   STORM_PROPS="node-action-limit=16 load-threshold=400%" test/bench/storm.sh
#                                         the same with cluster options set
#   STORM_HOW=fail test/bench/storm.sh 100 anything
#                                         no kill: N `crm_resource --fail` at
#                                         once, Pacemaker's own failure path
#                                         with no agent reporting anything (the
#                                         machine's baseline for the storm)
#
# For each agent: N resources (ocf:warden:daemon, or ocf:heartbeat:anything,
# both running "/bin/sleep <unique>", monitor every 10 s), all started; then
# every service process is killed (one kill -9 of all of them) and it
# measures, per resource, the time until a new service process runs; then
# waits (60 s at most) for the fail counts to settle and reports their
# distribution, whether pacemaker-controld was respawned, and how many
# times the CIB manager evicted a client ("Evicting" in the log).
# Output: one summary line per agent, "storm: ..." (figures for the README).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../cluster" && pwd)
# shellcheck source=../cluster/lab.sh
. "$here/lab.sh"

N=${1:-100}
AGENTS=${2:-warden anything}
HOW=${STORM_HOW:-kill}
[[ $HOW == kill || $HOW == fail ]] || { echo "STORM_HOW must be kill or fail, not '$HOW'" >&2; exit 2; }

trap 'lab_down_if_started >/dev/null 2>&1 || true' EXIT

# service_cmd AGENT I: the service's argv.
service_cmd() { printf '/bin/sleep %d%04d' "$([[ $1 == warden ]] && echo 4 || echo 5)" "$2"; }

run() {
    local agent=$1 cfg i rsc ctl ctl_after mark evictions
    lab_up >&2 || { echo "lab_up failed" >&2; return 1; }
    ctl=$(lab_proc_find pacemaker-controld | head -n1)
    local prop
    for prop in ${STORM_PROPS:-}; do
        env -u CIB_file crm_attribute --type crm_config --name "${prop%%=*}" --update "${prop#*=}"
    done
    cfg=$(mktemp)
    for (( i = 1; i <= N; i++ )); do
        rsc=$(printf 'storm-%s-%03d' "$agent" "$i")
        if [[ $agent == warden ]]; then
            printf 'primitive %s ocf:warden:daemon params command="%s" op monitor interval=10s timeout=20s\n' \
                "$rsc" "$(service_cmd "$agent" "$i")"
        else
            printf 'primitive %s ocf:heartbeat:anything params binfile=/bin/sleep cmdline_options="%s" op monitor interval=10s timeout=20s\n' \
                "$rsc" "$(service_cmd "$agent" "$i" | cut -d' ' -f2)"
        fi
    done > "$cfg"
    env -u CIB_file crm configure load update "$cfg" >/dev/null 2>&1
    rm -f "$cfg"
    started() {
        local n
        n=$(_lab_xpath "count(//resources/resource[starts-with(@id,'storm-') and @role='Started'])")
        [[ $n == "$N" ]]
    }
    lab_wait_for -t 300 -i 1 started || { echo "not all $N started" >&2; return 1; }
    sleep 12 # one monitor of each has run
    mark=$(lab_log_mark)
    # Kill all at once and time each service's return, from /proc.
    python3 - "$agent" "$N" "$HOW" "$LAB_NODE" <<'PY' >"$LAB_DIR/storm-$agent.times" 2>"$LAB_DIR/storm-$agent.load"
import os, sys, time, signal, subprocess
agent, n, how, node = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
prefix = "4" if agent == "warden" else "5"
want = {f"{prefix}{i:04d}": None for i in range(1, n + 1)}
def scan():
    found = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if len(argv) >= 2 and argv[0].endswith(b"sleep") and state != "Z":
            a = argv[1].decode(errors="replace")
            if a in want:
                found[a] = int(d)
    return found
old = scan()
assert len(old) == n, f"found {len(old)} of {n} services"
print("load", open("/proc/loadavg").read().split()[0], file=sys.stderr)
t0 = time.monotonic()
failers = []
if how == "kill":
    for pid in old.values():
        os.kill(pid, signal.SIGKILL)
else:
    env = {k: v for k, v in os.environ.items() if k != "CIB_file"}
    for i in range(1, n + 1):
        failers.append(subprocess.Popen(
            ["crm_resource", "--fail", "--resource", f"storm-{agent}-{i:03d}", "--node", node],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
back = {}
# Every 200 ms: one scan of /proc costs about 15 ms of CPU with the 300-odd
# processes of a storm; every 50 ms it took a quarter of a core from the
# recovery it measures.
while len(back) < n and time.monotonic() - t0 < 300:
    time.sleep(0.2)
    for a, pid in scan().items():
        if a not in back and pid != old[a]:
            back[a] = time.monotonic() - t0
bad = sum(1 for p in failers if p.wait() != 0)
if bad:
    print(f"crm_resource --fail failed for {bad}", file=sys.stderr)
for a in want:
    print(a, f"{back[a]:.2f}" if a in back else "never")
PY
    [[ -s $LAB_DIR/storm-$agent.times ]] || { cat "$LAB_DIR/storm-$agent.load" >&2; return 1; }
    local load
    load=$(sed -n 's/^load //p' "$LAB_DIR/storm-$agent.load" 2>/dev/null)
    sleep 5
    local settle_deadline=$(( $(lab_now) + 60000 )) counts xml
    while :; do
        xml=$(lab_mon_xml)
        counts=$(for (( i = 1; i <= N; i++ )); do lab_failcount_in "$xml" "$(printf 'storm-%s-%03d' "$agent" "$i")"; done | sort -n | uniq -c | awk '{printf "%s×%s ", $1, $2}')
        [[ $counts == "$N×1 " ]] && break
        (( $(lab_now) < settle_deadline )) || break
        sleep 2
    done
    ctl_after=$(lab_proc_find pacemaker-controld | head -n1)
    evictions=$(lab_log_since "$mark" | grep -c Evicting || true)
    local times
    times=$(awk '$2 != "never" {print $2}' "$LAB_DIR/storm-$agent.times" | sort -n)
    local cnt median max never
    cnt=$(wc -l <<< "$times")
    median=$(sed -n "$(( (cnt + 1) / 2 ))p" <<< "$times")
    max=$(tail -n1 <<< "$times")
    never=$(grep -c never "$LAB_DIR/storm-$agent.times" || true)
    local throttle
    throttle=$(lab_log_since "$mark" | grep -o 'New throttle mode: [a-z]*' | awk '{print $4}' | paste -sd, - || true)
    echo "storm: $agent x$N${STORM_PROPS:+ ($STORM_PROPS)} $([[ $HOW == kill ]] && echo killed || echo "failed by crm_resource") at once (load ${load:-?}): running again median ${median}s max ${max}s (never: $never); fail counts ${counts% }; controller $([[ $ctl == "$ctl_after" ]] && echo "kept (pid $ctl)" || echo "RESPAWNED ($ctl -> $ctl_after)"); evictions $evictions; throttle ${throttle:-unchanged}"
    lab_down >&2
}

for a in $AGENTS; do
    run "$a"
done
