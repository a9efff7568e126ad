#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab's power switch: boots the nodes of test/lab/plab.sh with
systemd-nspawn, and powers them off and on when asked.

    plab-switch.py STATE_DIR CGROUP

STATE_DIR/nodes holds one line per node: "NAME ROOT NETNS_PATH" (the root
is an overlay the lab mounted; the network namespace one it made). The
switch listens on two unix sockets:

  STATE_DIR/switch/switch.sock  bind-mounted into every node (as
      /run/warden-lab-switch/switch.sock): the fence agent
      fence_warden_lab asks here. Verbs: list, status NODE, on NODE,
      off NODE. Reachable only from the host's root and the nodes (the
      directory is 0700 and nothing else mounts it).
  STATE_DIR/admin.sock  the lab's own, never mounted into a node: the
      same verbs and pid NODE (the node's PID 1, as the host sees it) and
      quit (every node off, then exit).

A request is one line of at most 128 bytes, read within 2 s; the answer is
one line, "ok ..." or "err REASON". NODE must be one of STATE_DIR/nodes.

"off" is a power cut: SIGKILL of the node's PID 1 (the child of its
systemd-nspawn process that is PID 1 of a PID namespace), so its whole
PID namespace ends at once, as a crashed machine's would, and of anything
else in the node's cgroup; the answer comes once nspawn has exited and
the node's cgroup is empty. "on"
starts systemd-nspawn again on the same root (its upper directory keeps
what the node wrote). A node that asks for a reboot itself (systemctl
reboot: nspawn exits 133) is booted again, as a machine would be.

Each node runs in a cgroup of its own, CGROUP/NAME in the host's cgroup
v2 hierarchy (and in the legacy name=systemd one, on a host that mounts
both): systemd-nspawn --keep-unit roots the node's cgroup namespace there,
so the systemd of one node never sees another's cgroups. The nodes get
cgroup v2 only (SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1), as current systems
have (trixie's systemd boots on nothing else). Left-over cgroups of a
node are removed before it boots and when the switch quits.

Every boot, power action and exit goes to STATE_DIR/switch.log; each
node's console to STATE_DIR/NAME.console.
"""

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

MAX_REQUEST = 128
READ_TIMEOUT = 2.0
OFF_TIMEOUT = 15.0
PID1_TIMEOUT = 10.0
NSPAWN_MOUNT = "/run/warden-lab-switch"


def log(msg):
    t = time.strftime("%H:%M:%S")
    sys.stderr.write(f"[switch {t}] {msg}\n")
    sys.stderr.flush()


class Node:
    def __init__(self, name, root, netns):
        self.name, self.root, self.netns = name, root, netns
        self.nspawn = None  # pid of systemd-nspawn while the node runs
        self.pid1 = None  # its PID 1, as the host sees it
        self.wanted_off = False
        self.boots = 0
        self.addrs = None  # eth0's addresses before its first boot


def cgroup_mounts():
    """The host's cgroup v2 mount and its name=systemd v1 mount (or None)."""
    v2 = v1 = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _source, opts = post.split()[:3]
            mnt = pre.split()[4]
            if fstype == "cgroup2" and v2 is None:
                v2 = mnt
            elif fstype == "cgroup" and "name=systemd" in opts.split(","):
                v1 = mnt
    return v2, v1


def rmdir_tree(path):
    """Remove an empty cgroup tree, leaves first."""
    if not os.path.isdir(path):
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            rmdir_tree(entry.path)
    deadline = time.monotonic() + 2.0
    while True:
        try:
            os.rmdir(path)
            return
        except OSError as e:
            # EBUSY for a moment after its last process died
            if time.monotonic() >= deadline:
                log(f"cannot remove cgroup {path}: {e}")
                return
            time.sleep(0.05)


class Switch:
    def __init__(self, state, cgroup):
        self.state = state
        v2, v1 = cgroup_mounts()
        if v2 is None:
            raise SystemExit("plab-switch: no cgroup v2 mount on this host")
        self.cgroups = [os.path.join(m, cgroup) for m in (v2, v1) if m]
        self.nodes = {}
        with open(os.path.join(state, "nodes")) as f:
            for line in f:
                w = line.split()
                if len(w) == 3:
                    self.nodes[w[0]] = Node(*w)
        self.sockdir = os.path.join(state, "switch")
        self.quit = False

    # ---- nodes -------------------------------------------------------------
    def forget_addresses(self, n):
        """The addresses the node's last boot added to its eth0 (IPaddr2's
        virtual address) go, as they go from a machine that loses its power:
        the network namespace outlives the node. Without this, a crashed
        node's namespace answers for the address while the node is off, and
        its probe after the reboot finds the address "running"."""
        ip = ["ip", "-n", os.path.basename(n.netns)]
        try:
            out = subprocess.run(ip + ["-o", "addr", "show", "dev", "eth0"], capture_output=True,
                                 text=True, timeout=10, check=True).stdout
        except (OSError, subprocess.SubprocessError) as e:
            log(f"{n.name}: cannot list the addresses of its eth0: {e}")
            return
        addrs = {w[3] for w in (line.split() for line in out.splitlines())
                 if len(w) > 3 and w[2] in ("inet", "inet6") and not w[3].startswith("fe80:")}
        if n.addrs is None:
            n.addrs = addrs
            return
        for a in sorted(addrs - n.addrs):
            log(f"{n.name}: power lost: its address {a} goes")
            subprocess.run(ip + ["addr", "del", a, "dev", "eth0"], timeout=10, check=False)

    def boot(self, n):
        if n.nspawn is not None:
            return "ok already on"
        self.forget_addresses(n)
        console = os.open(os.path.join(self.state, n.name + ".console"),
                          os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        argv = ["systemd-nspawn", "--quiet", "--directory", n.root, "--boot",
                "--register=no", "--keep-unit", "--machine", n.name,
                "--hostname", n.name, "--network-namespace-path", n.netns,
                "--bind", f"{self.sockdir}:{NSPAWN_MOUNT}",
                "--console=pipe", "--link-journal=no", "--resolv-conf=off",
                "--timezone=off",
                # the node's network namespace is its own: its root may
                # configure it, as a machine's root does (IPaddr2 adds the
                # virtual server's address; nspawn drops the capability
                # with --network-namespace-path)
                "--capability=CAP_NET_ADMIN"]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
               # the host mounts cgroup v1 and v2 side by side; the nodes
               # get v2 only, as current systems have (trixie's systemd
               # boots on nothing else)
               "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}
        cgs = [os.path.join(c, n.name) for c in self.cgroups]
        for c in cgs:
            rmdir_tree(c)
            os.makedirs(c, exist_ok=True)
        pid = os.fork()
        if pid == 0:
            try:
                for c in cgs:
                    with open(os.path.join(c, "cgroup.procs"), "w") as f:
                        f.write(f"{os.getpid()}\n")
                os.setsid()
                nul = os.open("/dev/null", os.O_RDONLY)
                os.dup2(nul, 0)
                os.dup2(console, 1)
                os.dup2(console, 2)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(console)
        n.nspawn, n.pid1, n.wanted_off = pid, None, False
        n.boots += 1
        deadline = time.monotonic() + PID1_TIMEOUT
        while time.monotonic() < deadline and n.nspawn is not None:
            n.pid1 = node_pid1(pid)
            if n.pid1 is not None:
                break
            self.reap()
            time.sleep(0.05)
        log(f"{n.name}: boot {n.boots}: nspawn {pid}, PID 1 {n.pid1}")
        if n.pid1 is None:
            return "err no PID 1 for the node (see its console)"
        return "ok on"

    def power_off(self, n):
        if n.nspawn is None and not self.populated(n):
            return "ok already off"
        n.wanted_off = True
        if n.nspawn is not None:
            n.pid1 = node_pid1(n.nspawn)
            deadline = time.monotonic() + PID1_TIMEOUT
            while n.pid1 is None and n.nspawn is not None and time.monotonic() < deadline:
                time.sleep(0.05)  # nspawn is still making the node
                self.reap()
                n.pid1 = node_pid1(n.nspawn) if n.nspawn is not None else None
        if n.pid1 is not None:
            log(f"{n.name}: power off: SIGKILL of its PID 1 {n.pid1}")
            try:
                os.kill(n.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Whatever else runs in the node's cgroup (its PID 1 not found,
        # say): the node is off only when nothing of it runs.
        self.cgroup_kill(n, "payload")
        deadline = time.monotonic() + OFF_TIMEOUT
        while n.nspawn is not None and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.05)
        if n.nspawn is not None:
            log(f"{n.name}: nspawn {n.nspawn} still runs: SIGKILL")
            os.kill(n.nspawn, signal.SIGKILL)
            while n.nspawn is not None:
                self.reap(block=True)
        self.cgroup_kill(n, "")
        deadline = time.monotonic() + OFF_TIMEOUT
        while self.populated(n) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.populated(n):
            return f"err processes of {n.name} are left in its cgroup"
        self.forget_addresses(n)
        return "ok off"

    def cgroup_v2(self, n):
        return os.path.join(self.cgroups[0], n.name)

    def populated(self, n):
        try:
            with open(os.path.join(self.cgroup_v2(n), "cgroup.events")) as f:
                return "populated 1" in f.read().splitlines()
        except OSError:
            return False

    def cgroup_kill(self, n, sub):
        """SIGKILL of every process in the node's cgroup (or its sub)."""
        path = os.path.join(self.cgroup_v2(n), sub) if sub else self.cgroup_v2(n)
        if not os.path.isdir(path):
            return
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1\n")
            return
        except OSError:
            pass  # before Linux 5.14: one by one
        for root, _dirs, _files in os.walk(path):
            try:
                with open(os.path.join(root, "cgroup.procs")) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def reap(self, block=False):
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for n in self.nodes.values():
                if n.nspawn == pid:
                    code = os.waitstatus_to_exitcode(status)
                    n.nspawn, n.pid1 = None, None
                    log(f"{n.name}: nspawn {pid} exited ({code})")
                    # 133: the node rebooted itself (systemctl reboot)
                    if code == 133 and not n.wanted_off and not self.quit:
                        self.boot(n)
            if block:
                return

    # ---- requests ----------------------------------------------------------
    def handle(self, line, admin):
        w = line.split()
        if not w:
            return "err empty request"
        verb, args = w[0], w[1:]
        if verb == "list" and not args:
            return "ok " + " ".join(self.nodes)
        if admin and verb == "quit" and not args:
            self.quit = True
            for n in self.nodes.values():
                self.power_off(n)
            return "ok quit"
        if verb not in ("status", "on", "off") and not (admin and verb == "pid"):
            return "err unknown request (list, status NODE, on NODE, off NODE)"
        if len(args) != 1 or args[0] not in self.nodes:
            return "err NODE must be one of: " + " ".join(self.nodes)
        n = self.nodes[args[0]]
        self.reap()
        if verb == "status":
            return "ok " + ("on" if n.nspawn is not None else "off")
        if verb == "pid":
            if n.nspawn is not None and (n.pid1 is None or node_pid1(n.nspawn) != n.pid1):
                n.pid1 = node_pid1(n.nspawn)
            return f"ok {n.pid1}" if n.pid1 else "err off"
        if verb == "on":
            return self.boot(n)
        return self.power_off(n)

    def serve_one(self, lsock, admin):
        conn, _ = lsock.accept()
        with conn:
            try:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                        struct.calcsize("3i"))
                pid, uid, _gid = struct.unpack("3i", creds)
            except OSError:
                pid, uid = -1, -1
            data = b""
            deadline = time.monotonic() + READ_TIMEOUT
            while b"\n" not in data and len(data) <= MAX_REQUEST:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                conn.settimeout(left)
                try:
                    chunk = conn.recv(MAX_REQUEST + 1 - len(data))
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                data += chunk
            if b"\n" not in data and len(data) > MAX_REQUEST:
                answer = f"err request longer than {MAX_REQUEST} bytes"
            else:
                try:
                    line = data.split(b"\n", 1)[0].decode("ascii")
                except UnicodeDecodeError:
                    line = None
                if line is None or not line.isprintable():
                    answer = "err request is not one line of printable ASCII"
                else:
                    answer = self.handle(line, admin)
                    log(f"{'admin' if admin else 'node'} request from pid {pid} uid {uid}: "
                        f"{line!r} -> {answer}")
            try:
                conn.settimeout(READ_TIMEOUT)
                conn.sendall((answer + "\n").encode())
            except OSError:
                pass

    def run(self):
        os.makedirs(self.sockdir, mode=0o700, exist_ok=True)
        os.chmod(self.sockdir, 0o700)
        socks = {}
        for path, admin in ((os.path.join(self.sockdir, "switch.sock"), False),
                            (os.path.join(self.state, "admin.sock"), True)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            s.bind(path)
            os.chmod(path, 0o600)
            s.listen(16)
            socks[s.fileno()] = (s, admin)
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "quit", True))
        with open(os.path.join(self.state, "switch.ready"), "w") as f:
            f.write(f"{os.getpid()}\n")
        while not self.quit:
            self.reap()
            try:
                ready, _, _ = select.select(list(socks), [], [], 0.2)
            except InterruptedError:
                continue
            for fd in ready:
                s, admin = socks[fd]
                self.serve_one(s, admin)
        for n in self.nodes.values():
            self.power_off(n)
        for c in self.cgroups:
            rmdir_tree(c)
        log("quit")


def node_pid1(nspawn):
    """The node's PID 1: the child of its systemd-nspawn that is PID 1 of a
    PID namespace of its own (nspawn has another child for a moment, the
    one that makes the namespaces, which is not)."""
    for pid in children(nspawn):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        ids = line.split()[1:]
                        if len(ids) > 1 and ids[-1] == "1":
                            return pid
        except OSError:
            continue
    return None


def children(pid):
    """The PIDs whose parent is pid (a /proc walk)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in ("Z", "X") and int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: plab-switch.py STATE_DIR CGROUP\n")
        return 2
    Switch(sys.argv[1], sys.argv[2]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
