"""Unit tests of the pct connection's look-up of a container by hostname, on this machine's configs
(node_root) and on a remote node's (its awk listing scripted): hostnames are DNS names, so letter case
does not count, as in nexcage_container's look-up (readers.with_hostname serves both)."""

import pytest
from ansible.errors import AnsibleConnectionFailure
from ansible.playbook.play_context import PlayContext

from ansible_collections.cageforge.nexcage.plugins.connection import pct
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.vmid import find_by_hostname

CONFIGS = {101: "hostname: Web01\n", 102: "hostname: db\n", 103: "hostname: \u212aube\n"}


def connection(container_name, node_host="localhost"):
    conn = pct.Connection(PlayContext())
    options = {"vmid": None, "container_name": container_name, "node_host": node_host}
    conn.get_option = options.get
    return conn


@pytest.fixture
def configs(node_root):
    for vmid, text in CONFIGS.items():
        (node_root / "etc/pve/lxc" / ("%d.conf" % vmid)).write_text(text)
    return node_root


@pytest.mark.parametrize("name", ["web01", "WEB01", "Web01", "web01.example.com", "WEB01.Example.COM"])
def test_local_lookup_ignores_letter_case(configs, name):
    assert connection(name)._resolve_vmid() == "101"
    assert find_by_hostname(name.split(".")[0]) == [101]


def test_remote_lookup_ignores_letter_case(monkeypatch):
    listing = "".join("%s/%d.conf %s" % (pct.paths.LXC_CONF_DIR, vmid, text) for vmid, text in CONFIGS.items())
    conn = connection("DB", node_host="pve1")
    monkeypatch.setattr(conn, "_node_script", lambda script, **kwargs: (0, listing.encode(), b""))
    assert conn._resolve_vmid() == "102"


def test_only_ascii_letters_fold(configs):
    """U+212A KELVIN SIGN lowers to "k" in str.lower(); in a DNS name it is no letter K."""
    with pytest.raises(AnsibleConnectionFailure, match="no container with hostname 'kube'"):
        connection("kube")._resolve_vmid()
    assert find_by_hostname("kube") == []
