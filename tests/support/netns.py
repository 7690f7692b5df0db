"""Separate "hosts" on one machine: network namespaces this test makes, joined by veth links to a
bridge in the first one. Every interface and address lives inside those namespaces (the veth ends
are created straight into them), so the machine's own interfaces and routes are never touched."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field

SUBNET = "10.250.0"  # private to the namespaces: no clash with the machine's networks, nor another run's


@dataclass(frozen=True)
class Host:
    label: str  # "a", "b", …
    namespace: str
    address: str
    link: str  # its veth end on host A's bridge ("" for host A)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Network:
    """Host A owns the bridge (SUBNET.1); each added host gets the next address on a veth link."""
    prefix: str = field(default_factory=lambda: f"cs{os.getpid()}")
    hosts: dict[str, Host] = field(default_factory=dict)

    def _namespace(self, label: str) -> str:
        namespace = f"{self.prefix}-{label}"
        _ip("netns", "add", namespace)
        _ip("-n", namespace, "link", "set", "lo", "up")
        return namespace

    def start(self) -> Host:
        """Host A: its namespace and the bridge the others join."""
        namespace = self._namespace("a")
        self.hosts["a"] = Host("a", namespace, f"{SUBNET}.1", "")
        _ip("-n", namespace, "link", "add", "br0", "type", "bridge")
        _ip("-n", namespace, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _ip("-n", namespace, "link", "set", "br0", "up")
        return self.hosts["a"]

    def add(self, label: str) -> Host:
        a = self.hosts["a"].namespace
        namespace = self._namespace(label)
        host = Host(label, namespace, f"{SUBNET}.{len(self.hosts) + 1}", f"v{label}")
        self.hosts[label] = host
        _ip("link", "add", host.link, "netns", a, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("-n", a, "link", "set", host.link, "master", "br0")
        _ip("-n", a, "link", "set", host.link, "up")
        _ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        return host

    def cut(self, host: Host) -> None:
        """Host `host`'s cable unplugged: its packets to and from host A are dropped."""
        _ip("-n", self.hosts["a"].namespace, "link", "set", host.link, "down")

    def restore(self, host: Host) -> None:
        _ip("-n", self.hosts["a"].namespace, "link", "set", host.link, "up")

    def argv(self, host: Host, argv: list[str]) -> list[str]:
        """`argv` run on `host`. Not `ip netns exec`: that also mounts a fresh /sys, hiding the cgroup
        tree nsjail needs; nsenter changes the network namespace only."""
        return ["nsenter", f"--net=/run/netns/{host.namespace}", *argv]

    def kill_all(self, host: Host) -> None:
        """SIGKILL every process still in the host's namespace (a host that crashes)."""
        listed = subprocess.run(["ip", "netns", "pids", host.namespace], capture_output=True, text=True,
                                timeout=30, check=False).stdout.split()
        for pid in listed:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def close(self) -> None:
        """Ends what is left in the namespaces and deletes them (their links go with them)."""
        for host in reversed(list(self.hosts.values())):
            self.kill_all(host)
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, timeout=30, check=False)
        self.hosts.clear()
