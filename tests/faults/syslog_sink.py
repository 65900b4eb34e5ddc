"""A syslog receiver on /dev/log: every datagram becomes one line of the output file.

Ansible modules log their invocation ("Invoked with ...") to syslog through /dev/log (or to the
journal when python3-systemd is installed; it is not, on these machines). run.sh starts this sink
inside a private mount namespace whose /dev is an overlay, so /dev/log exists only for the
processes of the test run and the machine's own logging is left alone.

    python syslog_sink.py /dev/log OUTPUT READY_FILE
"""

from __future__ import annotations

import os
import signal
import socket
import sys


def main() -> int:
    address, output, ready = sys.argv[1:4]
    if os.path.exists(address):
        os.unlink(address)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(address)
    os.chmod(address, 0o666)
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
    with open(output, "ab", buffering=0) as out:
        with open(ready, "w") as fh:
            fh.write(str(os.getpid()))
        while True:
            data = sock.recv(1024 * 1024)
            out.write(data.replace(b"\n", b"\\n") + b"\n")


if __name__ == "__main__":
    sys.exit(main())
