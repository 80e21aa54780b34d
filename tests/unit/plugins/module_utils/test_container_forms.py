"""community.proxmox's forms of nexcage_container's options (_container/forms.py): the property strings
become the typed options, and a wrong type or value is a ValidationError naming the option, never
another exception."""

import itertools

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._container import desired, forms
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError


@pytest.mark.parametrize(
    "given, typed",
    [
        (
            {"netif": {"net1": "name=eth1,bridge=vmbr0", "net0": "name=eth0,ip=dhcp,tag=5,firewall=1"}},
            {
                "netif": [
                    {"name": "eth0", "ip": "dhcp", "tag": 5, "firewall": True},
                    {"name": "eth1", "bridge": "vmbr0"},
                ]
            },
        ),
        (
            {"mounts": {"mp3": "local-zfs:8,mp=/data,acl=1,mountoptions=noatime;nodev,ro=1"}},
            {
                "mounts": [
                    {
                        "id": 3,
                        "storage": "local-zfs",
                        "size": 8,
                        "mountpoint": "/data",
                        "acl": True,
                        "mountoptions": ["noatime", "nodev"],
                        "read_only": True,
                    }
                ]
            },
        ),
        (
            {"mounts": {"mp0": "local-zfs:subvol-120-disk-1,mp=/old"}},
            {
                "mounts": [
                    {"id": 0, "volume": "local-zfs:subvol-120-disk-1", "storage": "local-zfs", "mountpoint": "/old"}
                ]
            },
        ),
        (
            {"mounts": {"mp0": "/srv/www,mp=/www"}},
            {"mounts": [{"id": 0, "host_path": "/srv/www", "mountpoint": "/www"}]},
        ),
        (
            {"features": ["nesting=1", "keyctl=0", "mount=cifs,nfs"]},
            {"features": {"nesting": True, "keyctl": False, "mount": ["cifs", "nfs"]}},
        ),
        ({"features": "nesting=1,mount=nfs;cifs"}, {"features": {"nesting": True, "mount": ["nfs", "cifs"]}}),
        ({"startup": ["order=2", "up=30"]}, {"startup": {"order": 2, "up": 30}}),
        ({"startup": "3"}, {"startup": {"order": 3}}),
        ({"disk": "local-lvm:20"}, {"rootfs": {"storage": "local-lvm", "size": 20}}),
        ({"disk": "16", "storage": "local-zfs"}, {"rootfs": {"storage": "local-zfs", "size": 16}}),
        ({"rootfs": "local-zfs:8,acl=1"}, {"rootfs": {"storage": "local-zfs", "size": 8, "acl": True}}),
        (
            {"disk_volume": {"storage": "local", "size": 20, "options": {"acl": "1"}}},
            {"rootfs": {"storage": "local", "size": 20, "acl": True}},
        ),
        (
            {
                "mount_volumes": [
                    {"id": "mp1", "storage": "local", "size": 8, "mountpoint": "/m", "options": {"ro": "1"}}
                ]
            },
            {"mounts": [{"id": 1, "storage": "local", "size": 8, "mountpoint": "/m", "read_only": True}]},
        ),
        ({"nameserver": ["1.1.1.1 8.8.8.8"]}, {"nameserver": ["1.1.1.1", "8.8.8.8"]}),
        ({"ostype": "auto"}, {"ostype": None}),
    ],
)
def test_string_forms_become_typed_options(given, typed):
    out, _notes = forms.typed_params(given)
    for key, value in typed.items():
        assert out[key] == value
    desired.desired_from_params(out)  # and the typed form validates


def test_update_is_a_no_op_with_a_note():
    out, notes = forms.typed_params({"update": True, "memory": 5})
    assert "update" not in out and notes and "no effect" in notes[0]


@pytest.mark.parametrize(
    "given, stop_mode",
    [
        ({"force": True, "state": "stopped", "stop_mode": "shutdown"}, "stop"),  # force wins (shutdown is the default)
        ({"force": True, "state": "restarted", "stop_mode": "shutdown"}, "stop"),
        ({"force": False, "state": "stopped", "stop_mode": "shutdown"}, "shutdown"),
        ({"force": True, "state": "absent", "stop_mode": "shutdown"}, "shutdown"),  # there force is pct destroy --force
        ({"force": True, "state": "template", "stop_mode": "shutdown"}, "shutdown"),
    ],
)
def test_force_with_stopped_or_restarted_is_a_forced_stop(given, stop_mode):
    """community.proxmox: with states stopped and restarted, force stops the instance at once."""
    out, notes = forms.typed_params(given)
    assert out["stop_mode"] == stop_mode and out["force"] is given["force"] and notes == []


def test_api_options_get_one_message_without_the_secret():
    with pytest.raises(ValidationError) as caught:
        forms.typed_params({"api_host": "pve", "api_token_secret": "s3cret", "node": "pve"})
    assert "runs on the Proxmox VE node" in caught.value.message and "inventory host" in caught.value.fix
    assert "s3cret" not in str(caught.value)


VALUES = [5, "x", [], {}, [5], ["x"], {"a": 1}, [{"a": 1}], True, 1.5, [[1]], {"mp0": {}}, {"net0": 5}]
VALUES += [["mount="], ["=1"], "order=1,up=x", {"storage": 5, "size": "big"}, [{"id": "mpx"}]]
VALUES += [
    {"options": {"acl": "maybe"}, "storage": "local", "size": 1},
    [{"id": "mp0", "mountpoint": "/m", "options": 3}],
]
KEYS = ["netif", "mounts", "features", "startup", "rootfs", "disk", "disk_volume", "mount_volumes", "nameserver"]
KEYS += ["hookscript", "cmode", "tty"]


@pytest.mark.parametrize("key, value", list(itertools.product(KEYS, VALUES)))
def test_wrong_types_are_validation_errors(key, value):
    try:
        out, _notes = forms.typed_params({key: value})
        desired.desired_from_params(out)
    except ValidationError as exc:
        assert exc.option.split(".")[0].split("[")[0] in (key, "rootfs", "mounts"), exc.option
