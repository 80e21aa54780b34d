# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""community.proxmox's forms of nexcage_container's options, turned into the typed forms. PRIVATE.

``typed_params(params)`` returns (params, notes): the Proxmox property strings community.proxmox
playbooks use (``netif: {net0: "name=eth0,bridge=vmbr0,ip=dhcp"}``, ``mounts: {mp0: "..."}``,
``features: ["nesting=1"]``, ``startup: ["order=1"]``, ``disk: "local-lvm:8"``, ``disk_volume``,
``mount_volumes``) parsed with _pveconfig's parsers into the typed options, and the typed forms
checked against their suboption specs (types converted as AnsibleModule converts them); ``force``
with ``state: stopped`` or ``restarted`` (community.proxmox's forced stop) becomes ``stop_mode: stop``.
Pure: it reads nothing from the node. Raises ValidationError naming the option (or its JSON path).
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _pvevalues, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container import argspec
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError

API_OPTIONS = ("api_host", "api_port", "api_user", "api_password", "api_token_id", "api_token_secret", "node")
API_OPTIONS += ("validate_certs",)
# states in which community.proxmox's force means a forced stop (our stop_mode: stop)
FORCED_STOP_STATES = ("stopped", "restarted")
# property-string field -> typed field of a mounts entry (the rest keep their name)
MOUNT_FIELDS = {"mp": "mountpoint", "ro": "read_only"}
NETIF_EXAMPLE = "netif: [{name: eth0, bridge: vmbr0, ip: dhcp}], or {net0: 'name=eth0,bridge=vmbr0,ip=dhcp'}"


def refuse_api_options(params):
    """community.proxmox's API options: one message saying where nexcage runs and how to target it."""
    given = [name for name in API_OPTIONS if params.get(name) is not None]
    if given:
        raise ValidationError(
            ", ".join(given),
            "<not shown>",
            "nexcage has no API client: it runs on the Proxmox VE node itself (over SSH, as root) and drives pct there",
            "Remove %s and run the task on the node: make the node the inventory host (or use "
            "delegate_to: <node>); the node is the one the container lives on" % ", ".join(given),
        )


def typed_params(params):
    """(params with the community.proxmox forms turned into the typed ones, notes for the user)."""
    refuse_api_options(params)
    out = dict(params)
    notes = []
    _exclusive(out, ("rootfs", "disk", "disk_volume"))
    _exclusive(out, ("mounts", "mount_volumes"))
    if out.get("disk") is not None:
        out["rootfs"] = _rootfs_from_string(out.pop("disk"), "disk", out.get("storage"))
    elif out.get("disk_volume") is not None:
        out["rootfs"] = _volume_entry(out.pop("disk_volume"), "disk_volume", root=True)
    elif isinstance(out.get("rootfs"), str):
        out["rootfs"] = _rootfs_from_string(out["rootfs"], "rootfs", out.get("storage"))
    if out.get("rootfs") is not None:
        out["rootfs"] = _checked(out["rootfs"], "rootfs", argspec.ROOTFS_OPTIONS)
        if out.get("storage") is not None and not out["rootfs"].get("storage"):
            out["rootfs"]["storage"] = out["storage"]
    elif out.get("storage") is not None and out.get("clone") is None:
        out["rootfs"] = {"storage": out["storage"]}
    if out.get("mount_volumes") is not None:
        out["mounts"] = [
            _volume_entry(entry, "mount_volumes[%d]" % i)
            for i, entry in enumerate(_list(out.pop("mount_volumes"), "mount_volumes"))
        ]
    for name, convert in (("netif", _netif), ("mounts", _mounts), ("features", _features), ("startup", _startup)):
        if out.get(name) is not None:
            out[name] = convert(out[name])
    for key in ("nameserver", "searchdomain"):
        if isinstance(out.get(key), list):
            out[key] = _pveconfig.split_list(" ".join(str(item) for item in out[key]))
    if out.get("ostype") == "auto":
        out["ostype"] = None  # community.proxmox's 'auto': let pct detect it
    if out.get("force") and out.get("state") in FORCED_STOP_STATES:
        out["stop_mode"] = "stop"  # community.proxmox's force stops the instance at once (pct stop)
    if out.get("update") is not None:
        notes.append("update: nexcage always converges an existing container; the option has no effect")
    for key in ("disk", "disk_volume", "mount_volumes", "update"):
        out.pop(key, None)
    if out.get("clone") is None:
        out.pop("storage", None)  # with clone it is the target storage of a full clone
    return out, notes


def _exclusive(params, names):
    given = [name for name in names if params.get(name) is not None]
    if len(given) > 1:
        raise ValidationError(
            " and ".join(given), "...", "are two ways to say the same thing", "Keep one of %s" % ", ".join(given)
        )


def _list(value, option):
    if not isinstance(value, list):
        raise ValidationError(option, value, "must be a list", "Write a YAML list of entries")
    return value


def _dict(value, option):
    if not isinstance(value, dict):
        raise ValidationError(option, value, "must be a dictionary", "Write a YAML mapping")
    return value


def _parse(key, text, option):
    if not isinstance(text, str):
        raise ValidationError(option, text, "must be a Proxmox property string", "Write e.g. %s" % _example(key))
    try:
        return _pveconfig.parse_property_string(key, text)
    except _pveconfig.ConfigError as exc:
        raise ValidationError(
            option, text, "is not a valid %s property string (%s)" % (key, str(exc).replace("\n", "; ")), None
        ) from None


def _example(key):
    return {
        "net": "'name=eth0,bridge=vmbr0,ip=dhcp'",
        "mp": "'local-zfs:8,mp=/data'",
        "rootfs": "'local-zfs:8'",
        "features": "'nesting=1'",
        "startup": "'order=1,up=30'",
    }.get(re.sub(r"\d+$", "", key), "'key=value,...'")


def _checked(entry, option, spec):
    """entry validated against a suboption spec, its values converted as AnsibleModule converts them."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    entry = _dict(entry, option)
    # the raw values first: ArgumentSpecValidator reads "1e3" as 1000 and crashes on "NaN"
    family = re.sub(r"\[\d+\]", "", option)
    problems = _validation.raw_option_problems(spec, entry, option + ".", family + ".")
    if problems:
        raise problems[0]
    result = ArgumentSpecValidator(spec).validate(entry)
    if result.error_messages:
        message = result.error_messages[0]
        unknown = re.match(r"^(.*)\. Supported parameters include: (.*)$", message)
        if unknown:
            message = "has no field %s (its fields: %s)" % unknown.groups()
        raise ValidationError(option, entry, message, "See ansible-doc cageforge.nexcage.nexcage_container")
    return {key: value for key, value in result.validated_parameters.items() if value is not None}


def _rootfs_from_string(text, option, storage):
    """'local-lvm:20', '20' (GiB on storage) or 'local-zfs:8,acl=1': the rootfs dict."""
    text = str(text)
    if re.match(r"^\d+(\.\d+)?$", text):
        return (
            {"storage": storage, "size": float(text) if "." in text else int(text)}
            if storage
            else {"size": int(float(text))}
        )
    fields = _parse("rootfs", text, option)
    return _volume_fields(fields, option, root=True)


def _volume_fields(fields, option, root=False):
    """Parsed rootfs/mpN fields -> typed entry: storage+size for a new volume, volume, or host_path."""
    fields = dict(fields)
    volume = str(fields.pop("volume"))
    entry = {}
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9\-_.]*):(\d+(?:\.\d+)?)$", volume)
    if match:
        entry["storage"] = match.group(1)
        entry["size"] = float(match.group(2)) if "." in match.group(2) else int(match.group(2))
        fields.pop("size", None)
    elif volume.startswith("/"):
        if root:
            raise ValidationError(option, volume, "a bind mount as root disk is not managed", "Use <storage>:<GiB>")
        entry["host_path"] = volume
    else:
        entry["volume"] = volume
        entry["storage"] = _pveconfig.volume_storage(volume)
    for name, value in fields.items():
        entry[MOUNT_FIELDS.get(name, name)] = value
    return entry


def _volume_entry(entry, option, root=False):
    """A community.proxmox disk_volume / mount_volumes entry -> the typed rootfs / mounts entry."""
    entry = dict(_dict(entry, option))
    out = {}
    if not root:
        mid = str(entry.pop("id", ""))
        match = re.match(r"^mp(\d+)$", mid)
        if not match:
            raise ValidationError(option + ".id", mid, "is not a mount point key", "Use mp0 ... mp255")
        out["id"] = int(match.group(1))
        out["mountpoint"] = entry.pop("mountpoint", None)
    for name in ("storage", "volume", "size", "host_path"):
        if entry.get(name) is not None:
            out[name] = entry[name]
    for name, value in _dict(entry.get("options") or {}, option + ".options").items():
        field = MOUNT_FIELDS.get(name, name)
        if field in ("acl", "quota", "replicate", "shared", "read_only", "backup"):
            try:
                value = _pvevalues.parse_bool(value)
            except _pvevalues.ConfigError:
                raise ValidationError(
                    option + ".options." + name, value, "is not a boolean", "Use '1' or '0'"
                ) from None
        elif field == "mountoptions":
            value = _pveconfig.split_list(value)
        out[field] = value
    return out


def _netif(value):
    if isinstance(value, dict):
        entries = []
        for key in sorted(value, key=_index):
            if not re.match(r"^net\d+$", str(key)):
                raise ValidationError("netif.%s" % key, value[key], "is not an interface key", "Use net0 ... net31")
            entries.append(_parse("net0", value[key], "netif.%s" % key))
            entries[-1].pop("type", None)
        value = entries
    return [_checked(entry, "netif[%d]" % i, argspec.NETIF_OPTIONS) for i, entry in enumerate(_list(value, "netif"))]


def _mounts(value):
    if isinstance(value, dict):
        entries = []
        for key in sorted(value, key=_index):
            match = re.match(r"^mp(\d+)$", str(key))
            if not match:
                raise ValidationError("mounts.%s" % key, value[key], "is not a mount point key", "Use mp0 ... mp255")
            fields = _parse(key, value[key], "mounts.%s" % key)
            entries.append(dict(_volume_fields(fields, "mounts.%s" % key), id=int(match.group(1))))
        value = entries
    return [_checked(entry, "mounts[%d]" % i, argspec.MOUNT_OPTIONS) for i, entry in enumerate(_list(value, "mounts"))]


def _features(value):
    if isinstance(value, (list, str)):
        items = value if isinstance(value, list) else [value]
        value = {}
        for i, item in enumerate(items):
            option = "features[%d]" % i
            text = str(item)
            if text.startswith("mount="):
                # community.proxmox's example writes mount=cifs,nfs; PVE's own form is mount=cifs;nfs
                value["mount"] = _pveconfig.split_list(text[len("mount=") :])
                continue
            for key, parsed in _parse("features", text, option).items():
                value[key] = parsed if key == "mount" else bool(parsed)
    return _checked(value, "features", argspec.FEATURES_OPTIONS)


def _startup(value):
    if isinstance(value, (list, str)):
        items = value if isinstance(value, list) else [value]
        value = _parse("startup", ",".join(str(item) for item in items), "startup")
    return _checked(value, "startup", argspec.STARTUP_OPTIONS)


def _index(key):
    match = re.search(r"(\d+)$", str(key))
    return int(match.group(1)) if match else -1
