# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config.json of an OCI runtime bundle: built from nexcage_bundle's options, read back from a bundle.
PRIVATE to the collection.

* ``build_config(params, overlay)``: config.json from the module options, on top of what ``runc spec``
  writes (``defaults.default_config``) and the image config overlay; ``deep_merge`` applies the raw
  ``config`` option last.
* ``load_config(bundle)`` / ``load_config_text(text)``: ``(config, problems)`` of an existing
  config.json, with one ``load`` problem when it is missing, not UTF-8, not JSON or absurdly deep.
* ``config_text``, ``sha256_text``, ``canonical``: the text written and the digests stored beside it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import INVALID_ARGUMENT, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.problems import problem

# The org.opencontainers.* annotations runtime-spec allows (it reserves the namespace for these keys).
ALLOWED_OCI_ANNOTATIONS = tuple(
    "org.opencontainers.image." + key
    for key in ("os", "os.version", "os.features", "architecture", "variant", "author", "created", "stopSignal")
)


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


def deep_merge(base, overlay):
    """Merge overlay into a copy of base: dicts recursively, anything else replaced;
    a None value in overlay removes the key."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_size(value, option="memory_limit"):
    """'512M', '1G', '1.5GiB', '536870912' (bytes) or -1 (unlimited) -> bytes."""
    if value in (-1, "-1"):
        return -1
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import sizes  # only with a size

    try:
        return sizes.parse_size(value)
    except sizes.SizeError:
        if str(value).strip().startswith("-"):
            raise NexcageError(INVALID_ARGUMENT, "%s: %r: only -1 may be negative" % (option, value)) from None
        raise NexcageError(
            INVALID_ARGUMENT,
            "%s: %r is not a size" % (option, value),
            hint="Give bytes (536870912), a size with a binary unit (512M, 1G, 1.5GiB) or -1 for no limit.",
        ) from None


def _env_name(entry):
    return entry.split("=", 1)[0]


def merge_env(base, overlay):
    """Entries of overlay replace same-named entries of base; new names are appended."""
    out = list(base)
    for entry in overlay:
        name = _env_name(entry)
        for i, old in enumerate(out):
            if _env_name(old) == name:
                out[i] = entry
                break
        else:
            out.append(entry)
    return out


def env_list(value, option="env"):
    """env option: a list of KEY=value strings or a dict -> list of strings."""
    if value is None:
        return None
    if isinstance(value, dict):
        return ["%s=%s" % (k, "" if v is None else v) for k, v in value.items()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise NexcageError(INVALID_ARGUMENT, "%s must be a list of KEY=value strings or a dict" % option)
    return [str(v) for v in value]


def _cap_name(name):
    name = str(name).strip().upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def _rlimit_name(name):
    name = str(name).strip().upper()
    return name if name.startswith("RLIMIT_") else "RLIMIT_" + name


def _mount_entry(m):
    entry = {"destination": m["destination"]}
    mtype = m.get("type")
    source = m.get("source")
    options = list(m.get("options") or [])
    if mtype is None and source is not None:
        mtype = "bind"
    if mtype == "bind" and not ({"bind", "rbind"} & set(options)):
        options.insert(0, "rbind")
    if mtype is not None:
        entry["type"] = mtype
    if source is not None:
        entry["source"] = source
    if options:
        entry["options"] = options
    return entry


def _replace_or_append(entries, entry, key):
    """Put entry in place of the entry with the same key, or at the end."""
    for index, old in enumerate(entries):
        if old.get(key) == entry[key]:
            entries[index] = entry
            return
    entries.append(entry)


def build_config(params, overlay=None):
    """config.json from the module options (see the module's DOCUMENTATION)."""
    cfg = default_config()
    proc = cfg["process"]
    overlay = overlay or {}
    if overlay.get("args"):
        proc["args"] = list(overlay["args"])
    if overlay.get("env"):
        proc["env"] = merge_env(proc["env"], overlay["env"])
    if overlay.get("cwd"):
        proc["cwd"] = overlay["cwd"]
    if overlay.get("user"):
        proc["user"] = dict(overlay["user"])
    if overlay.get("annotations"):
        cfg["annotations"] = dict(overlay["annotations"])

    if params.get("args") is not None:
        proc["args"] = [str(a) for a in params["args"]]
    env = env_list(params.get("env"))
    if env is not None:
        proc["env"] = merge_env(proc["env"], env)
    if params.get("cwd") is not None:
        proc["cwd"] = params["cwd"]
    user = params.get("user")
    if user:
        if user.get("uid") is not None:
            proc["user"]["uid"] = user["uid"]
        if user.get("gid") is not None:
            proc["user"]["gid"] = user["gid"]
        if user.get("additional_gids") is not None:
            if user["additional_gids"]:
                proc["user"]["additionalGids"] = list(user["additional_gids"])
            else:
                proc["user"].pop("additionalGids", None)
    if params.get("hostname") is not None:
        cfg["hostname"] = params["hostname"]
    if params.get("terminal") is not None:
        proc["terminal"] = params["terminal"]
    if params.get("readonly_rootfs") is not None:
        cfg["root"]["readonly"] = params["readonly_rootfs"]
    for m in params.get("mounts") or []:
        _replace_or_append(cfg["mounts"], _mount_entry(m), "destination")
    if params.get("annotations"):
        cfg.setdefault("annotations", {}).update({str(k): str(v) for k, v in params["annotations"].items()})
    resources = cfg["linux"].setdefault("resources", {})
    if params.get("memory_limit") is not None:
        resources.setdefault("memory", {})["limit"] = parse_size(params["memory_limit"])
    for opt, key in (("cpu_quota", "quota"), ("cpu_period", "period"), ("cpu_shares", "shares")):
        if params.get(opt) is not None:
            resources.setdefault("cpu", {})[key] = params[opt]
    if params.get("capabilities") is not None:
        caps = [_cap_name(c) for c in params["capabilities"]]
        for name in ("bounding", "effective", "permitted"):
            proc["capabilities"][name] = list(caps)
    for rl in params.get("rlimits") or []:
        entry = {"type": _rlimit_name(rl["type"]), "hard": rl["hard"], "soft": rl["soft"]}
        _replace_or_append(proc["rlimits"], entry, "type")
    if params.get("config"):
        cfg = deep_merge(cfg, params["config"])
    return cfg


def config_text(config):
    return json.dumps(config, indent=2) + "\n"


def sha256_text(text):
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def load_config(bundle):
    """(config, problems): problems has one 'load' error when config.json is missing or malformed."""
    path = os.path.join(bundle, "config.json")
    if not os.path.isfile(path):
        return None, [
            problem(
                "$",
                None,
                "config.json not found at the bundle root %s" % bundle,
                "generate the bundle (state: present) or add config.json",
                check="load",
            )
        ]
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [problem("$", str(exc), "config.json is not UTF-8", "re-save it as UTF-8", check="load")]
    return load_config_text(text)


# Deeper than any real config.json (the spec's deepest field is 5 levels down); the checks walk it recursively.
MAX_CONFIG_DEPTH = 64


def _depth(value):
    """The nesting depth of a JSON value (iterative: it must not overflow the stack itself)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_CONFIG_DEPTH:
                break
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _too_deep():
    return problem(
        "$",
        None,
        "config.json is nested more than %d levels deep" % MAX_CONFIG_DEPTH,
        "flatten the configuration (a real config.json is a few levels deep)",
        check="load",
    )


def load_config_text(text):
    """(config, problems) for the text of a config.json."""
    try:
        config = json.loads(text)
    except RecursionError:
        return None, [_too_deep()]
    except ValueError as exc:
        return None, [
            problem(
                "$",
                str(exc),
                "config.json is not valid JSON: %s" % exc,
                "fix the JSON syntax at the position shown",
                check="load",
            )
        ]
    if _depth(config) > MAX_CONFIG_DEPTH:
        return None, [_too_deep()]
    return config, []
