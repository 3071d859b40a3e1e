#!/usr/bin/env python3
"""Prints a loopback port nobody uses now: scripts/free-port.py [tcp|udp].

The port is taken below the kernel's ephemeral range (ip_local_port_range):
a port the kernel hands out for port 0 can be taken again, before the server
binds it, as the local port of any outgoing connection (a Kafka or MongoDB
client), and a broker that restarts on its old ports would find it taken.
"""
import random
import socket
import sys

kind = socket.SOCK_DGRAM if sys.argv[1:] == ["udp"] else socket.SOCK_STREAM
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
for _ in range(200):
    port = random.randrange(10000, max(low, 11001))
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
s = socket.socket(socket.AF_INET, kind)  # an unusual range: the kernel's choice
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
