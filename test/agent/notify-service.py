#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A small service that speaks the sd_notify protocol, for test-notify.sh.
# Datagrams straight to $NOTIFY_SOCKET (no systemd-notify: it exits at
# once, so a receiver that checks who sent a message cannot tell it was the
# service's). Usage: notify-service.py OUTDIR MODE [ARG...]
#   ready DELAY         STATUS=starting, READY=1 after DELAY s; then the
#                       watchdog (if WATCHDOG_USEC is set) every half period
#   never STATUS        STATUS= and never READY=1
#   extend DELAY        EXTEND_TIMEOUT_USEC=(DELAY+2) s, READY=1 after DELAY s
#   fork                forks; the parent says MAINPID=<child> READY=1, exits
#   child-ready         a child of the main process says READY=1
#   handover DELAY      ready at once; after DELAY s forks, says
#                       MAINPID=<child> and exits (as a re-exec would)
#   watchdog-until FILE ready at once, WATCHDOG=1 until FILE appears; then
#                       removes it (the next run pings again) and goes silent
#   watchdog-for SECS   ready at once, WATCHDOG=1 for SECS s, then silent
# It writes OUTDIR/env (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, its pid).
import os
import socket
import sys
import time

out, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def notify(text):
    # As sd_notify(3): a failure to send is the caller's to ignore (no
    # reader for a moment, while a lost keeper is replaced).
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return  # not asked to notify: sd_notify(3) then does nothing
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.sendto(text.encode(), path)
    except OSError:
        pass
    s.close()


def watchdog_loop(until=None):
    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    period = usec / 2e6 if usec else 3600
    start = time.monotonic()
    while until is None or time.monotonic() - start < until:
        if usec:
            notify("WATCHDOG=1")
        time.sleep(period)
    notify("STATUS=stopped pinging the watchdog")
    while True:
        time.sleep(3600)


with open(os.path.join(out, "env"), "w") as f:
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        f.write("%s=%s\n" % (k, os.environ.get(k, "")))
    f.write("pid=%d\nuid=%d\n" % (os.getpid(), os.getuid()))

if mode == "ready":
    notify("STATUS=starting")
    time.sleep(float(args[0]))
    notify("READY=1\nSTATUS=serving")
    watchdog_loop()
elif mode == "never":
    notify("STATUS=" + args[0])
    while True:
        time.sleep(3600)
elif mode == "extend":
    delay = float(args[0])
    notify("EXTEND_TIMEOUT_USEC=%d" % int((delay + 2) * 1e6))
    time.sleep(delay)
    notify("READY=1")
    watchdog_loop()
elif mode == "fork":
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)  # until the parent has spoken
        with open(os.path.join(out, "child"), "w") as f:
            f.write("%d\n" % os.getpid())
        watchdog_loop()
    notify("MAINPID=%d\nREADY=1" % pid)
    os.write(w, b"x")
    os._exit(0)
elif mode == "child-ready":
    pid = os.fork()
    if pid == 0:
        notify("READY=1\nSTATUS=said by a child")
        while True:
            time.sleep(3600)
    notify("STATUS=waiting for my child")
    while True:
        time.sleep(3600)
elif mode == "handover":
    notify("READY=1")
    time.sleep(float(args[0]))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        with open(os.path.join(out, "child"), "w") as f:
            f.write("%d\n" % os.getpid())
        watchdog_loop()
    notify("MAINPID=%d\nSTATUS=handed over" % pid)
    os.write(w, b"x")
    os._exit(0)
elif mode == "watchdog-until":
    notify("READY=1\nSTATUS=pinging")
    usec = int(os.environ["WATCHDOG_USEC"])
    while not os.path.exists(args[0]):
        notify("WATCHDOG=1")
        time.sleep(min(usec / 4e6, 0.2))
    os.unlink(args[0])
    notify("STATUS=silent since %.3f" % time.time())
    while True:
        time.sleep(3600)
elif mode == "watchdog-for":
    notify("READY=1")
    watchdog_loop(float(args[0]))
else:
    sys.exit("unknown mode " + mode)
