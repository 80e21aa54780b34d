# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON Schema and semantic checks for OCI runtime config.json. PRIVATE to the collection.

CONFIG_SCHEMA is the project's own JSON Schema (draft-04) for an OCI runtime
``config.json`` (runtime-spec 1.3.0). It is self-contained (every ``$ref`` is
local), so no network and no schema files are needed at run time. It accepts
and rejects the same documents as the upstream schema set, which a unit test
checks against the upstream files and fixtures. One deliberate difference:
upstream's ``ArrayOfUint32`` has a broken ``$ref`` (``#definitions/uint32``)
that makes jsonschema raise on a non-empty ``vm.hwConfig.irqs``; here the ref
is the intended ``#/definitions/uint32``.

The schema alone lets through much of what runtimes refuse (oci-runtime-tool
``validate`` catches it), so ``semantic_problems`` adds those checks. Every
problem is a dict: ``path`` (JSON path such as ``$.process.args[0]``),
``value``, ``level`` (``error`` or ``warning``), ``check`` (a short id),
``message`` and ``fix``.
"""

from __future__ import annotations

import os
import re
import stat

try:
    import jsonschema

    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - depends on the node
    jsonschema = None
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = _exc

JSONSCHEMA_HINT = "On Debian and Proxmox VE install it with: apt-get install python3-jsonschema"

# ---------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------


def _ref(name):
    return {"$ref": "#/definitions/" + name}


def _int_range(low, high):
    return {"type": "integer", "minimum": low, "maximum": high}


def _enum(*values):
    return {"type": "string", "enum": list(values)}


def _obj(properties, required=None, **extra):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def _array(items, **extra):
    schema = {"type": "array", "items": items}
    schema.update(extra)
    return schema


_STR = {"type": "string"}
_BOOL = {"type": "boolean"}

_DEFINITIONS = {
    # defs.json
    "int8": _int_range(-128, 127),
    "int16": _int_range(-32768, 32767),
    "int32": _int_range(-2147483648, 2147483647),
    "int64": _int_range(-9223372036854775808, 9223372036854775807),
    "uint8": _int_range(0, 255),
    "uint16": _int_range(0, 65535),
    "uint32": _int_range(0, 4294967295),
    "uint64": _int_range(0, 18446744073709551615),
    "percent": _int_range(0, 100),
    "mapStringString": {"type": "object", "patternProperties": {".{1,}": _STR}},
    "UID": _ref("uint32"),
    "GID": _ref("uint32"),
    "Umask": _ref("uint32"),
    "ArrayOfGIDs": _array(_ref("GID")),
    "ArrayOfStrings": _array(_STR),
    "ArrayOfUint32": _array(_ref("uint32")),
    "FileMode": _int_range(0, 511),
    "FilePath": _STR,
    "Env": _ref("ArrayOfStrings"),
    "Hook": _obj(
        {
            "path": _ref("FilePath"),
            "args": _ref("ArrayOfStrings"),
            "env": _ref("Env"),
            "timeout": {"type": "integer", "minimum": 1},
        },
        required=["path"],
    ),
    "ArrayOfHooks": _array(_ref("Hook")),
    "IDMapping": _obj(
        {"containerID": _ref("uint32"), "hostID": _ref("uint32"), "size": _ref("uint32")},
        required=["containerID", "hostID", "size"],
    ),
    "Mount": _obj(
        {
            "source": _ref("FilePath"),
            "destination": _ref("FilePath"),
            "options": _ref("ArrayOfStrings"),
            "type": _STR,
            "uidMappings": _array(_ref("IDMapping")),
            "gidMappings": _array(_ref("IDMapping")),
        },
        required=["destination"],
    ),
    "ociVersion": _STR,
    "annotations": _ref("mapStringString"),
    # defs-linux.json
    "PersonalityDomain": _enum("LINUX", "LINUX32"),
    "Personality": _obj({"domain": _ref("PersonalityDomain"), "flags": _ref("ArrayOfStrings")}),
    "RootfsPropagation": _enum("private", "shared", "slave", "unbindable"),
    "SeccompArch": _enum(
        *(
            "SCMP_ARCH_" + a
            for a in [
                "X86",
                "X86_64",
                "X32",
                "ARM",
                "AARCH64",
                "LOONGARCH64",
                "M68K",
                "MIPS",
                "MIPS64",
                "MIPS64N32",
                "MIPSEL",
                "MIPSEL64",
                "MIPSEL64N32",
                "PPC",
                "PPC64",
                "PPC64LE",
                "S390",
                "S390X",
                "SH",
                "SHEB",
                "PARISC",
                "PARISC64",
                "RISCV64",
            ]
        )
    ),
    "SeccompAction": _enum(
        *(
            "SCMP_ACT_" + a
            for a in ["KILL", "KILL_PROCESS", "KILL_THREAD", "TRAP", "ERRNO", "TRACE", "ALLOW", "LOG", "NOTIFY"]
        )
    ),
    "SeccompFlag": _enum(
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ),
    "SeccompOperators": _enum(*("SCMP_CMP_" + a for a in ["NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ"])),
    "SyscallArg": _obj(
        {"index": _ref("uint32"), "value": _ref("uint64"), "valueTwo": _ref("uint64"), "op": _ref("SeccompOperators")},
        required=["index", "value", "op"],
    ),
    "Syscall": _obj(
        {
            "names": _array(_STR, minItems=1),
            "action": _ref("SeccompAction"),
            "errnoRet": _ref("uint32"),
            "args": _array(_ref("SyscallArg")),
        },
        required=["names", "action"],
    ),
    "Major": _ref("int64"),
    "Minor": _ref("int64"),
    "FileType": {"type": "string", "pattern": "^[cbup]$"},
    "Device": _obj(
        {
            "type": _ref("FileType"),
            "path": _ref("FilePath"),
            "fileMode": _ref("FileMode"),
            "major": _ref("Major"),
            "minor": _ref("Minor"),
            "uid": _ref("UID"),
            "gid": _ref("GID"),
        },
        required=["type", "path"],
    ),
    "NetDevice": _obj({"name": _STR}),
    "weight": _ref("uint16"),
    "blockIODevice": _obj({"major": _ref("Major"), "minor": _ref("Minor")}, required=["major", "minor"]),
    "blockIODeviceWeight": {
        "type": "object",
        "allOf": [_ref("blockIODevice"), _obj({"weight": _ref("weight"), "leafWeight": _ref("weight")})],
    },
    "blockIODeviceThrottle": {"allOf": [_ref("blockIODevice"), _obj({"rate": _ref("uint64")})]},
    "DeviceCgroup": _obj(
        {"allow": _BOOL, "type": _STR, "major": _ref("Major"), "minor": _ref("Minor"), "access": _STR},
        required=["allow"],
    ),
    "MemoryPolicyMode": _enum(
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_WEIGHTED_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY",
        "MPOL_LOCAL",
    ),
    "MemoryPolicyFlag": _enum("MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"),
    "NetworkInterfacePriority": _obj({"name": _STR, "priority": _ref("uint32")}, required=["name", "priority"]),
    "Rdma": _obj({"hcaHandles": _ref("uint32"), "hcaObjects": _ref("uint32")}),
    "NamespaceType": _enum("mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"),
    "NamespaceReference": _obj({"type": _ref("NamespaceType"), "path": _ref("FilePath")}, required=["type"]),
    "TimeOffsets": _obj({"secs": _ref("int64"), "nanosecs": _ref("uint32")}),
    "SchedulerPolicy": _enum(
        "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"
    ),
    "SchedulerFlag": _enum(
        "SCHED_FLAG_RESET_ON_FORK",
        "SCHED_FLAG_RECLAIM",
        "SCHED_FLAG_DL_OVERRUN",
        "SCHED_FLAG_KEEP_POLICY",
        "SCHED_FLAG_KEEP_PARAMS",
        "SCHED_FLAG_UTIL_CLAMP_MIN",
        "SCHED_FLAG_UTIL_CLAMP_MAX",
    ),
    # defs-vm.json
    "RootImageFormat": _enum("raw", "qcow2", "vdi", "vmdk", "vhd"),
    "IOMemEntryFormat": _obj(
        {"firstGFN": _ref("uint64"), "firstMFN": _ref("uint64"), "nrMFNs": _ref("uint64")},
        required=["firstMFN", "nrMFNs"],
    ),
    # defs-windows.json
    "WindowsDevice": _obj({"id": _STR, "idType": _enum("class")}, required=["id", "idType"]),
    # defs-zos.json
    "ZosNamespaceType": _enum("mount", "pid", "uts", "ipc"),
    "ZosNamespaceReference": _obj({"type": _ref("ZosNamespaceType"), "path": _ref("FilePath")}, required=["type"]),
    # defs-freebsd.json
    "FreebsdDevice": _obj({"path": _STR, "mode": _ref("FileMode")}),
    "SharingMode": _enum("disable", "new", "inherit"),
    "SharingModeNoDisable": _enum("new", "inherit"),
}

_THROTTLE = _array(_ref("blockIODeviceThrottle"))

_LINUX = _obj(
    {
        "devices": _array(_ref("Device")),
        "netDevices": {"type": "object", "additionalProperties": _ref("NetDevice")},
        "uidMappings": _array(_ref("IDMapping")),
        "gidMappings": _array(_ref("IDMapping")),
        "namespaces": _array({"anyOf": [_ref("NamespaceReference")]}),
        "resources": _obj(
            {
                "unified": _ref("mapStringString"),
                "devices": _array(_ref("DeviceCgroup")),
                "pids": _obj({"limit": _ref("int64")}, required=["limit"]),
                "blockIO": _obj(
                    {
                        "weight": _ref("weight"),
                        "leafWeight": _ref("weight"),
                        "throttleReadBpsDevice": _THROTTLE,
                        "throttleWriteBpsDevice": _THROTTLE,
                        "throttleReadIOPSDevice": _THROTTLE,
                        "throttleWriteIOPSDevice": _THROTTLE,
                        "weightDevice": _array(_ref("blockIODeviceWeight")),
                    }
                ),
                "cpu": _obj(
                    {
                        "cpus": _STR,
                        "mems": _STR,
                        "period": _ref("uint64"),
                        "quota": _ref("int64"),
                        "burst": _ref("uint64"),
                        "realtimePeriod": _ref("uint64"),
                        "realtimeRuntime": _ref("int64"),
                        "shares": _ref("uint64"),
                        "idle": _ref("int64"),
                    }
                ),
                "hugepageLimits": _array(
                    _obj(
                        {"pageSize": {"type": "string", "pattern": "^[1-9][0-9]*[KMG]B$"}, "limit": _ref("uint64")},
                        required=["pageSize", "limit"],
                    )
                ),
                "memory": _obj(
                    {
                        "kernel": _ref("int64"),
                        "kernelTCP": _ref("int64"),
                        "limit": _ref("int64"),
                        "reservation": _ref("int64"),
                        "swap": _ref("int64"),
                        "swappiness": _ref("uint64"),
                        "disableOOMKiller": _BOOL,
                        "useHierarchy": _BOOL,
                        "checkBeforeUpdate": _BOOL,
                    }
                ),
                "network": _obj({"classID": _ref("uint32"), "priorities": _array(_ref("NetworkInterfacePriority"))}),
                "rdma": {"type": "object", "additionalProperties": _ref("Rdma")},
            }
        ),
        "cgroupsPath": _STR,
        "rootfsPropagation": _ref("RootfsPropagation"),
        "seccomp": _obj(
            {
                "defaultAction": _ref("SeccompAction"),
                "defaultErrnoRet": _ref("uint32"),
                "flags": _array(_ref("SeccompFlag")),
                "listenerPath": _STR,
                "listenerMetadata": _STR,
                "architectures": _array(_ref("SeccompArch")),
                "syscalls": _array(_ref("Syscall")),
            },
            required=["defaultAction"],
        ),
        "sysctl": _ref("mapStringString"),
        "maskedPaths": _ref("ArrayOfStrings"),
        "readonlyPaths": _ref("ArrayOfStrings"),
        "mountLabel": _STR,
        "intelRdt": _obj(
            {
                "closID": _STR,
                "schemata": _ref("ArrayOfStrings"),
                "l3CacheSchema": _STR,
                "memBwSchema": {"type": "string", "pattern": "^MB:[^\\n]*$"},
                "enableMonitoring": _BOOL,
            }
        ),
        "memoryPolicy": _obj(
            {"mode": _ref("MemoryPolicyMode"), "nodes": _STR, "flags": _array(_ref("MemoryPolicyFlag"))}
        ),
        "personality": {"type": "object", "$ref": "#/definitions/Personality"},
        "timeOffsets": _obj({"boottime": _ref("TimeOffsets"), "monotonic": _ref("TimeOffsets")}),
    }
)

_SOLARIS = _obj(
    {
        "milestone": _STR,
        "limitpriv": _STR,
        "maxShmMemory": _STR,
        "cappedCPU": _obj({"ncpus": _STR}),
        "cappedMemory": _obj({"physical": _STR, "swap": _STR}),
        "anet": _array(
            _obj(
                dict.fromkeys(
                    (
                        "linkname",
                        "lowerLink",
                        "allowedAddress",
                        "configureAllowedAddress",
                        "defrouter",
                        "macAddress",
                        "linkProtection",
                    ),
                    _STR,
                )
            )
        ),
    }
)

_WINDOWS = _obj(
    {
        "layerFolders": _array(_ref("FilePath"), minItems=1),
        "devices": _array(_ref("WindowsDevice")),
        "resources": _obj(
            {
                "memory": _obj({"limit": _ref("uint64")}),
                "cpu": _obj(
                    {
                        "count": _ref("uint64"),
                        "shares": _ref("uint16"),
                        "maximum": _ref("uint16"),
                        "affinity": _obj({"mask": _ref("uint64"), "group": _ref("uint32")}),
                    }
                ),
                "storage": _obj({"iops": _ref("uint64"), "bps": _ref("uint64"), "sandboxSize": _ref("uint64")}),
            }
        ),
        "network": _obj(
            {
                "endpointList": _ref("ArrayOfStrings"),
                "allowUnqualifiedDNSQuery": _BOOL,
                "DNSSearchList": _ref("ArrayOfStrings"),
                "networkSharedContainerName": _STR,
                "networkNamespace": _STR,
            }
        ),
        "credentialSpec": {"type": "object"},
        "servicing": _BOOL,
        "ignoreFlushesDuringBoot": _BOOL,
        "hyperv": _obj({"utilityVMPath": _STR}),
    },
    required=["layerFolders"],
)

_VM = _obj(
    {
        "hypervisor": _obj({"path": _ref("FilePath"), "parameters": _ref("ArrayOfStrings")}, required=["path"]),
        "kernel": _obj(
            {"path": _ref("FilePath"), "parameters": _ref("ArrayOfStrings"), "initrd": _ref("FilePath")},
            required=["path"],
        ),
        "image": _obj({"path": _ref("FilePath"), "format": _ref("RootImageFormat")}, required=["path", "format"]),
        "hwConfig": _obj(
            {
                "deviceTree": _ref("FilePath"),
                "vcpus": _ref("uint32"),
                "memory": _ref("uint64"),
                "dtdevs": _ref("ArrayOfStrings"),
                "iomems": {"type": "array", "items": [_ref("IOMemEntryFormat")]},
                "irqs": _ref("ArrayOfUint32"),
            }
        ),
    },
    required=["kernel"],
)

_ZOS = _obj({"namespaces": _array({"anyOf": [_ref("ZosNamespaceReference")]})})

_FREEBSD = _obj(
    {
        "devices": _array(_ref("FreebsdDevice")),
        "jail": _obj(
            {
                "parent": _STR,
                "host": _ref("SharingModeNoDisable"),
                "ip4": _ref("SharingMode"),
                "ip4Addr": _ref("ArrayOfStrings"),
                "ip6": _ref("SharingMode"),
                "ip6Addr": _ref("ArrayOfStrings"),
                "vnet": _ref("SharingModeNoDisable"),
                "interface": _STR,
                "vnetInterfaces": _ref("ArrayOfStrings"),
                "sysvmsg": _ref("SharingMode"),
                "sysvsem": _ref("SharingMode"),
                "sysvshm": _ref("SharingMode"),
                "enforceStatfs": _ref("uint8"),
                "allow": _obj(
                    {
                        "setHostname": _BOOL,
                        "rawSockets": _BOOL,
                        "chflags": _BOOL,
                        "mount": _ref("ArrayOfStrings"),
                        "quotas": _BOOL,
                        "socketAf": _BOOL,
                        "mlock": _BOOL,
                        "reservedPorts": _BOOL,
                        "suser": _BOOL,
                    }
                ),
            }
        ),
    }
)

_HOOKS = _obj(
    {
        name: _ref("ArrayOfHooks")
        for name in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
    }
)

_PROCESS = _obj(
    {
        "args": _ref("ArrayOfStrings"),
        "commandLine": _STR,
        "consoleSize": _obj({"height": _ref("uint64"), "width": _ref("uint64")}, required=["height", "width"]),
        "cwd": _STR,
        "env": _ref("Env"),
        "terminal": _BOOL,
        "user": _obj(
            {
                "uid": _ref("UID"),
                "gid": _ref("GID"),
                "umask": _ref("Umask"),
                "additionalGids": _ref("ArrayOfGIDs"),
                "username": _STR,
            }
        ),
        "capabilities": _obj(
            {name: _ref("ArrayOfStrings") for name in ("bounding", "permitted", "effective", "inheritable", "ambient")}
        ),
        "apparmorProfile": _STR,
        "oomScoreAdj": {"type": "integer"},
        "selinuxLabel": _STR,
        "ioPriority": _obj(
            {
                "class": _enum("IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"),
                "priority": _ref("int32"),
            },
            required=["class"],
        ),
        "noNewPrivileges": _BOOL,
        "scheduler": _obj(
            {
                "policy": _ref("SchedulerPolicy"),
                "nice": _ref("int32"),
                "priority": _ref("int32"),
                "flags": _array(_ref("SchedulerFlag")),
                "runtime": _ref("uint64"),
                "deadline": _ref("uint64"),
                "period": _ref("uint64"),
            },
            required=["policy"],
        ),
        "rlimits": _array(
            _obj(
                {
                    "hard": _ref("uint64"),
                    "soft": _ref("uint64"),
                    "type": {"type": "string", "pattern": "^RLIMIT_[A-Z]+$"},
                },
                required=["type", "soft", "hard"],
            )
        ),
        "execCPUAffinity": _obj(
            {
                "initial": {"type": "string", "pattern": "^[0-9, -]*$"},
                "final": {"type": "string", "pattern": "^[0-9, -]*$"},
            }
        ),
    },
    required=["cwd"],
)

CONFIG_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "nexcage: OCI runtime config.json (runtime-spec 1.3.0)",
    "type": "object",
    "required": ["ociVersion"],
    "properties": {
        "ociVersion": _ref("ociVersion"),
        "hooks": _HOOKS,
        "annotations": _ref("annotations"),
        "hostname": _STR,
        "domainname": _STR,
        "mounts": _array(_ref("Mount")),
        "root": _obj({"path": _ref("FilePath"), "readonly": _BOOL}, required=["path"]),
        "process": _PROCESS,
        "linux": _LINUX,
        "solaris": _SOLARIS,
        "windows": _WINDOWS,
        "vm": _VM,
        "zos": _ZOS,
        "freebsd": _FREEBSD,
    },
    "definitions": _DEFINITIONS,
}

# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------


def json_path(parts):
    """['process', 'args', 0] -> '$.process.args[0]'."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part):
            out += "." + part
        else:
            out += "[%s]" % _quote(part)
    return out


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def problem(parts, value, message, fix, level="error", check="semantic"):
    return {
        "path": json_path(parts) if not isinstance(parts, str) else parts,
        "value": value,
        "level": level,
        "check": check,
        "message": message,
        "fix": fix,
    }


def errors_of(problems):
    return [p for p in problems if p["level"] == "error"]


def format_problem(p):
    return "%s: %s (value: %s). Fix: %s" % (p["path"], p["message"], _short(p["value"]), p["fix"])


def _short(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


_SCHEMA_FIXES = {
    "required": "add the missing property",
    "type": "use a value of the type the schema names",
    "enum": "use one of the allowed values",
    "minimum": "use a larger value",
    "maximum": "use a smaller value",
    "pattern": "use a value matching the pattern",
    "minItems": "add at least one entry",
    "anyOf": "use one of the allowed forms",
    "allOf": "satisfy every part of the definition",
}


def schema_problems(config):
    """Validate against CONFIG_SCHEMA; one problem per (leaf) schema error."""
    if not HAS_JSONSCHEMA:
        raise RuntimeError("jsonschema is not importable")
    validator = jsonschema.Draft4Validator(CONFIG_SCHEMA)
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(x) for x in e.absolute_path]):
        leaves = _leaf_errors(err)
        for leaf in leaves:
            parts = list(leaf.absolute_path)
            value = leaf.instance
            if leaf.validator == "required":
                missing = re.findall(r"'([^']*)' is a required property", leaf.message)
                if missing:
                    parts = parts + [missing[0]]
                    value = None
            fix = _SCHEMA_FIXES.get(leaf.validator, "correct the value")
            if leaf.validator in ("type", "enum", "pattern", "minimum", "maximum"):
                fix = "%s (%s: %s)" % (fix, leaf.validator, _short(leaf.validator_value))
            out.append(problem(parts, value, "schema: " + leaf.message, fix, check="schema"))
    return out


def _leaf_errors(err):
    if not err.context:
        return [err]
    best = jsonschema.exceptions.best_match(err.context)
    return _leaf_errors(best) if best is not None else [err]


def schema_is_valid(config):
    return jsonschema.Draft4Validator(CONFIG_SCHEMA).is_valid(config)


# ---------------------------------------------------------------------------
# Semantic checks (oci-runtime-tool validate, runc's own checks)
# ---------------------------------------------------------------------------

POSIX_RLIMITS = (
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_NOFILE",
    "RLIMIT_STACK",
)
LINUX_RLIMITS = POSIX_RLIMITS + (
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
)

# moby/sys/capability ListKnown() (Linux 6.x: CAP_CHECKPOINT_RESTORE is the last, 40).
KNOWN_CAPABILITIES = tuple(
    "CAP_" + c
    for c in [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
)
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

ALLOWED_OCI_ANNOTATIONS = tuple(
    "org.opencontainers.image." + k
    for k in ("os", "os.version", "os.features", "architecture", "variant", "author", "created", "stopSignal")
)
_REVERSE_DOMAIN = re.compile(r"^[A-Za-z]{2,6}(\.[A-Za-z0-9-]{1,63})+$")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_HOSTNAME = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")


def _is_abs(value):
    return isinstance(value, str) and value.startswith("/")


def resolve_in_root(root, path, follow_last=True):
    """Resolve path inside root with chroot semantics (absolute symlinks and '..'
    stay inside root). Returns the host path; never leaves root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate) and (parts or follow_last):
            hops += 1
            if hops > 40:
                raise OSError("too many levels of symbolic links: %s" % path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _check_env(entries, parts, out):
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        if "=" not in entry:
            out.append(
                problem(
                    parts + [i],
                    entry,
                    "environment entry is not KEY=value",
                    "write it as NAME=value (an empty value is written NAME=)",
                    check="env",
                )
            )
            continue
        name = entry.split("=", 1)[0].strip()
        if not name or not _ENV_NAME.match(name):
            out.append(
                problem(
                    parts + [i],
                    entry,
                    "environment variable name %s may contain only letters, digits and '_'" % _short(name),
                    "rename the variable, e.g. %s" % (re.sub(r"[^A-Za-z0-9_]", "_", name) or "NAME"),
                    check="env",
                )
            )
        elif name[0].isdigit():
            out.append(
                problem(
                    parts + [i],
                    entry,
                    "environment variable name starts with a digit",
                    "start the name with a letter or '_'",
                    level="warning",
                    check="env",
                )
            )


def _root_dir(config, bundle_dir):
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or bundle_dir is None:
        return None
    path = root["path"]
    return os.path.normpath(path if path.startswith("/") else os.path.join(bundle_dir, path))


def _check_root(config, bundle_dir, out, rootfs=None, rootfs_known=True):
    root = config.get("root")
    if root is None:
        out.append(
            problem(
                ["root"],
                None,
                "root is REQUIRED on Linux",
                'set "root": {"path": "rootfs"}',
                check="root",
            )
        )
        return
    if not isinstance(root, dict) or not isinstance(root.get("path"), str):
        return
    path = root["path"]
    if os.path.basename(path.rstrip("/")) != "rootfs":
        out.append(
            problem(
                ["root", "path"],
                path,
                "the root filesystem directory SHOULD be named rootfs",
                'use "rootfs"',
                level="warning",
                check="root",
            )
        )
    if bundle_dir is None:
        return
    full = _root_dir(config, bundle_dir)
    if os.path.dirname(full) != os.path.normpath(os.path.abspath(bundle_dir)):
        out.append(
            problem(
                ["root", "path"],
                path,
                "the root filesystem must be a directory directly inside the bundle",
                'use "rootfs" (relative to the bundle)',
                check="root",
            )
        )
    elif rootfs_known and not os.path.isdir(rootfs if rootfs is not None else full):
        out.append(
            problem(
                ["root", "path"],
                path,
                "the root filesystem directory %s does not exist" % full,
                "create it, or point root.path at the bundle's rootfs directory",
                check="root",
            )
        )


def _check_process(config, rootfs, out):
    proc = config.get("process")
    if proc is None:
        out.append(
            problem(
                ["process"],
                None,
                "process is missing; runtimes need it to start the container",
                'add "process" with at least "cwd" and "args"',
                check="process",
            )
        )
        return
    if not isinstance(proc, dict):
        return
    cwd = proc.get("cwd")
    if isinstance(cwd, str) and not cwd.startswith("/"):
        out.append(
            problem(
                ["process", "cwd"],
                cwd,
                "process.cwd must be an absolute path",
                'use an absolute path such as "/%s"' % cwd.lstrip("./"),
                check="cwd",
            )
        )
    _check_env(proc.get("env"), ["process", "env"], out)
    args = proc.get("args")
    if args is None or (isinstance(args, list) and not args):
        out.append(
            problem(
                ["process", "args"],
                args,
                "process.args must have at least one entry (the program to run)",
                'set args, e.g. ["/bin/sh", "-c", "..."]',
                check="args",
            )
        )
    elif isinstance(args, list) and isinstance(args[0], str):
        _check_executable(args[0], rootfs, proc.get("env"), out)
    rlimits = proc.get("rlimits")
    if isinstance(rlimits, list):
        seen = {}
        for i, rl in enumerate(rlimits):
            if not isinstance(rl, dict):
                continue
            rtype = rl.get("type")
            if isinstance(rtype, str):
                if rtype in seen:
                    out.append(
                        problem(
                            ["process", "rlimits", i, "type"],
                            rtype,
                            "rlimit %s is listed twice (also at index %d)" % (rtype, seen[rtype]),
                            "keep one entry per rlimit type",
                            check="rlimits",
                        )
                    )
                else:
                    seen[rtype] = i
                if rtype not in LINUX_RLIMITS:
                    out.append(
                        problem(
                            ["process", "rlimits", i, "type"],
                            rtype,
                            "unknown rlimit type",
                            "use one of: %s" % ", ".join(LINUX_RLIMITS),
                            check="rlimits",
                        )
                    )
            soft, hard = rl.get("soft"), rl.get("hard")
            if isinstance(soft, int) and isinstance(hard, int) and hard < soft:
                out.append(
                    problem(
                        ["process", "rlimits", i],
                        rl,
                        "hard limit %d is below soft limit %d" % (hard, soft),
                        "raise hard to at least soft, or lower soft",
                        check="rlimits",
                    )
                )
    caps = proc.get("capabilities")
    if isinstance(caps, dict):
        sets = {}
        for name in CAPABILITY_SETS:
            values = caps.get(name)
            if not isinstance(values, list):
                continue
            sets[name] = {v for v in values if isinstance(v, str)}
            for i, cap in enumerate(values):
                if isinstance(cap, str) and cap not in KNOWN_CAPABILITIES:
                    fix = "use a known capability name such as CAP_%s" % cap.upper().removeprefix("CAP_")
                    if cap.upper() in KNOWN_CAPABILITIES or "CAP_" + cap.upper() in KNOWN_CAPABILITIES:
                        fix = "write it as %s" % ("CAP_" + cap.upper().removeprefix("CAP_"))
                    out.append(
                        problem(
                            ["process", "capabilities", name, i],
                            cap,
                            "unknown capability",
                            fix,
                            check="capabilities",
                        )
                    )
        permitted = sets.get("permitted", set())
        for i, cap in enumerate(caps.get("effective") or []):
            if isinstance(cap, str) and cap not in permitted:
                out.append(
                    problem(
                        ["process", "capabilities", "effective", i],
                        cap,
                        "effective capability is not in the permitted set",
                        "add %s to capabilities.permitted" % cap,
                        check="capabilities",
                    )
                )
        inheritable = sets.get("inheritable", set())
        for i, cap in enumerate(caps.get("ambient") or []):
            if isinstance(cap, str) and (cap not in permitted or cap not in inheritable):
                out.append(
                    problem(
                        ["process", "capabilities", "ambient", i],
                        cap,
                        "ambient capability must be both permitted and inheritable",
                        "add %s to capabilities.permitted and capabilities.inheritable" % cap,
                        check="capabilities",
                    )
                )
    profile = proc.get("apparmorProfile")
    if (
        isinstance(profile, str)
        and profile
        and rootfs
        and profile != "unconfined"
        and not os.path.exists(os.path.join(rootfs, "etc", "apparmor.d", profile))
    ):
        out.append(
            problem(
                ["process", "apparmorProfile"],
                profile,
                "AppArmor profile not found under the rootfs /etc/apparmor.d",
                "add the profile to the rootfs, or remove apparmorProfile",
                level="warning",
                check="apparmor",
            )
        )


def _check_executable(arg0, rootfs, env, out):
    if rootfs is None or not os.path.isdir(rootfs):
        return
    if arg0.startswith("/"):
        candidates = [arg0]
    elif "/" in arg0:
        return  # relative to cwd: cannot be judged without the runtime's cwd handling
    else:
        path_value = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for entry in env or []:
            if isinstance(entry, str) and entry.startswith("PATH="):
                path_value = entry[5:]
        candidates = [d.rstrip("/") + "/" + arg0 for d in path_value.split(":") if d.startswith("/")]
    for cand in candidates:
        try:
            host = resolve_in_root(rootfs, cand)
        except OSError:
            continue
        if os.path.lexists(host):
            try:
                st = os.stat(host)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
                out.append(
                    problem(
                        ["process", "args", 0],
                        arg0,
                        "%s in the rootfs is %s"
                        % (cand, "a directory" if stat.S_ISDIR(st.st_mode) else "not executable"),
                        "point args[0] at an executable file, or chmod +x it",
                        check="args",
                    )
                )
            return
    where = arg0 if arg0.startswith("/") else "%s (searched PATH: %s)" % (arg0, ", ".join(candidates))
    out.append(
        problem(
            ["process", "args", 0],
            arg0,
            "program %s not found in the rootfs" % where,
            "install it in the rootfs or use the path of an existing program",
            check="args",
        )
    )


def _check_mounts(config, out, bundle_dir=None):
    mounts = config.get("mounts")
    if not isinstance(mounts, list):
        return
    dests = []
    for i, m in enumerate(mounts):
        if not isinstance(m, dict):
            continue
        dest = m.get("destination")
        if isinstance(dest, str):
            if not dest.startswith("/"):
                out.append(
                    problem(
                        ["mounts", i, "destination"],
                        dest,
                        "mount destination must be an absolute path",
                        'use "/%s"' % dest.lstrip("./"),
                        check="mounts",
                    )
                )
            norm = os.path.normpath("/" + dest)
            for j, earlier in dests:
                if earlier == norm:
                    out.append(
                        problem(
                            ["mounts", i, "destination"],
                            dest,
                            "this mount covers the earlier mount at index %d (same destination)" % j,
                            "remove one of the two mounts",
                            level="warning",
                            check="mounts",
                        )
                    )
                elif earlier.startswith(norm.rstrip("/") + "/"):
                    out.append(
                        problem(
                            ["mounts", i, "destination"],
                            dest,
                            "%s (index %d) will be covered by this mount" % (earlier, j),
                            "order mounts from outer to inner directories",
                            level="warning",
                            check="mounts",
                        )
                    )
            dests.append((i, norm))
        options = m.get("options") or []
        is_bind = isinstance(options, list) and ("bind" in options or "rbind" in options)
        source = m.get("source")
        if is_bind and not source:
            out.append(
                problem(
                    ["mounts", i, "source"],
                    source,
                    "a bind mount needs a source",
                    "set source to the host path to bind",
                    check="mounts",
                )
            )
        elif is_bind and isinstance(source, str) and bundle_dir is not None:
            host = source if source.startswith("/") else os.path.join(bundle_dir, source)
            if not os.path.exists(host):
                out.append(
                    problem(
                        ["mounts", i, "source"],
                        source,
                        "bind mount source %s does not exist on this host (yet)" % host,
                        "create it before the container starts, or fix the path",
                        level="warning",
                        check="mounts",
                    )
                )
        if ("uidMappings" in m) != ("gidMappings" in m):
            out.append(
                problem(
                    ["mounts", i],
                    m,
                    "uidMappings and gidMappings must be given together",
                    "add the missing one",
                    check="mounts",
                )
            )


def _ns_set(linux):
    """{type: has_path} for the namespaces listed."""
    result = {}
    for ns in linux.get("namespaces") or []:
        if isinstance(ns, dict) and isinstance(ns.get("type"), str):
            result[ns["type"]] = bool(ns.get("path"))
    return result


def _check_linux(config, out):
    linux = config.get("linux")
    if not isinstance(linux, dict):
        if config.get("hostname"):
            out.append(
                problem(
                    ["hostname"],
                    config.get("hostname"),
                    "hostname needs a new uts namespace, and linux.namespaces is missing",
                    'add {"type": "uts"} to linux.namespaces',
                    check="namespaces",
                )
            )
        return
    namespaces = linux.get("namespaces")
    seen = {}
    if isinstance(namespaces, list):
        for i, ns in enumerate(namespaces):
            if not isinstance(ns, dict):
                continue
            ntype = ns.get("type")
            if ntype in seen:
                out.append(
                    problem(
                        ["linux", "namespaces", i, "type"],
                        ntype,
                        "namespace %s is listed twice (also at index %d)" % (ntype, seen[ntype]),
                        "keep one entry per namespace type",
                        check="namespaces",
                    )
                )
            else:
                seen[ntype] = i
            path = ns.get("path")
            if path and not _is_abs(path):
                out.append(
                    problem(
                        ["linux", "namespaces", i, "path"],
                        path,
                        "namespace path must be absolute",
                        "use the absolute path, e.g. /proc/<pid>/ns/%s" % ntype,
                        check="namespaces",
                    )
                )
    nss = _ns_set(linux)

    def new_ns(kind):
        return kind in nss and not nss[kind]

    if (linux.get("uidMappings") or linux.get("gidMappings")) and not new_ns("user"):
        out.append(
            problem(
                ["linux", "uidMappings" if linux.get("uidMappings") else "gidMappings"],
                linux.get("uidMappings") or linux.get("gidMappings"),
                "id mappings need a new user namespace",
                'add {"type": "user"} (without path) to linux.namespaces',
                check="namespaces",
            )
        )
    if config.get("hostname") and not new_ns("uts"):
        out.append(
            problem(
                ["hostname"],
                config.get("hostname"),
                "hostname needs a new uts namespace",
                'add {"type": "uts"} to linux.namespaces, or remove hostname',
                check="namespaces",
            )
        )
    if linux.get("timeOffsets") and not new_ns("time"):
        out.append(
            problem(
                ["linux", "timeOffsets"],
                linux.get("timeOffsets"),
                "timeOffsets need a new time namespace",
                'add {"type": "time"} to linux.namespaces',
                check="namespaces",
            )
        )
    sysctl = linux.get("sysctl")
    if isinstance(sysctl, dict):
        for key in sysctl:
            if key.startswith("net.") and not new_ns("network"):
                out.append(
                    problem(
                        ["linux", "sysctl", key],
                        sysctl[key],
                        "net.* sysctls need a new network namespace",
                        'add {"type": "network"} to linux.namespaces',
                        check="sysctl",
                    )
                )
            if key.startswith("fs.mqueue.") and not (new_ns("ipc") and new_ns("mount")):
                out.append(
                    problem(
                        ["linux", "sysctl", key],
                        sysctl[key],
                        "fs.mqueue.* sysctls need new ipc and mount namespaces",
                        'add {"type": "ipc"} and {"type": "mount"} to linux.namespaces',
                        check="sysctl",
                    )
                )
    for key in ("maskedPaths", "readonlyPaths"):
        values = linux.get(key)
        if isinstance(values, list):
            for i, v in enumerate(values):
                if isinstance(v, str) and not v.startswith("/"):
                    out.append(
                        problem(
                            ["linux", key, i],
                            v,
                            "path must be absolute",
                            'use "/%s"' % v.lstrip("./"),
                            check="paths",
                        )
                    )
    devices = linux.get("devices")
    if isinstance(devices, list):
        paths = {}
        for i, dev in enumerate(devices):
            if not isinstance(dev, dict):
                continue
            dpath = dev.get("path")
            if dpath in paths:
                out.append(
                    problem(
                        ["linux", "devices", i, "path"],
                        dpath,
                        "device path listed twice (also at index %d)" % paths[dpath],
                        "keep one entry per device path",
                        check="devices",
                    )
                )
            else:
                paths[dpath] = i
            if isinstance(dpath, str) and not dpath.startswith("/"):
                out.append(
                    problem(
                        ["linux", "devices", i, "path"],
                        dpath,
                        "device path must be absolute",
                        'use "/%s"' % dpath.lstrip("./"),
                        check="devices",
                    )
                )
            if dev.get("type") in ("b", "c", "u") and ("major" not in dev or "minor" not in dev):
                out.append(
                    problem(
                        ["linux", "devices", i],
                        dev,
                        "block and character devices need major and minor numbers",
                        "add major and minor",
                        check="devices",
                    )
                )
    resources = linux.get("resources")
    if isinstance(resources, dict):
        mem = resources.get("memory")
        if isinstance(mem, dict):
            limit, swap, reservation = mem.get("limit"), mem.get("swap"), mem.get("reservation")
            if _positive(limit) and _positive(swap) and swap < limit:
                out.append(
                    problem(
                        ["linux", "resources", "memory", "swap"],
                        swap,
                        "memory.swap (memory plus swap) %d is below memory.limit %d" % (swap, limit),
                        "set swap to at least the limit (swap = limit means no swap)",
                        check="resources",
                    )
                )
            if _positive(limit) and _positive(reservation) and reservation > limit:
                out.append(
                    problem(
                        ["linux", "resources", "memory", "reservation"],
                        reservation,
                        "memory.reservation %d is above memory.limit %d" % (reservation, limit),
                        "lower the reservation or raise the limit",
                        check="resources",
                    )
                )
        cpu = resources.get("cpu")
        if isinstance(cpu, dict):
            quota, burst, period = cpu.get("quota"), cpu.get("burst"), cpu.get("period")
            if _positive(quota) and isinstance(burst, int) and burst > quota:
                out.append(
                    problem(
                        ["linux", "resources", "cpu", "burst"],
                        burst,
                        "cpu.burst %d is above cpu.quota %d" % (burst, quota),
                        "lower burst to at most the quota",
                        check="resources",
                    )
                )
            if _positive(quota) and period == 0:
                out.append(
                    problem(
                        ["linux", "resources", "cpu", "period"],
                        period,
                        "cpu.period 0 with a quota",
                        "use a period such as 100000 (microseconds)",
                        check="resources",
                    )
                )
        for i, dev in enumerate(resources.get("devices") or []):
            if not isinstance(dev, dict):
                continue
            if dev.get("type") not in (None, "", "a", "b", "c"):
                out.append(
                    problem(
                        ["linux", "resources", "devices", i, "type"],
                        dev.get("type"),
                        "device cgroup type must be a, b or c",
                        'use "a" (all), "b" (block) or "c" (character)',
                        check="resources",
                    )
                )
            access = dev.get("access")
            if isinstance(access, str) and set(access) - set("rwm"):
                out.append(
                    problem(
                        ["linux", "resources", "devices", i, "access"],
                        access,
                        "device cgroup access may only contain r, w and m",
                        "use a combination of r, w, m",
                        check="resources",
                    )
                )
        for i, wd in enumerate((resources.get("blockIO") or {}).get("weightDevice") or []):
            if isinstance(wd, dict) and "weight" not in wd and "leafWeight" not in wd:
                out.append(
                    problem(
                        ["linux", "resources", "blockIO", "weightDevice", i],
                        wd,
                        "weightDevice entry needs weight or leafWeight",
                        "add weight",
                        check="resources",
                    )
                )


def _positive(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_annotations(config, out):
    annotations = config.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, value in annotations.items():
        if key == "":
            out.append(
                problem(
                    ["annotations", key],
                    value,
                    "annotation keys must not be empty",
                    "use a reverse-domain key such as com.example.key",
                    check="annotations",
                )
            )
            continue
        if key.startswith("org.opencontainers"):
            if key not in ALLOWED_OCI_ANNOTATIONS:
                out.append(
                    problem(
                        ["annotations", key],
                        value,
                        "the org.opencontainers namespace is reserved",
                        "use your own reverse-domain prefix, or one of: %s" % ", ".join(ALLOWED_OCI_ANNOTATIONS),
                        check="annotations",
                    )
                )
            continue
        if not _REVERSE_DOMAIN.match(key):
            out.append(
                problem(
                    ["annotations", key],
                    value,
                    "annotation key should use reverse-domain notation",
                    "rename it, e.g. com.example.%s" % re.sub(r"[^A-Za-z0-9-]", "-", key),
                    level="warning",
                    check="annotations",
                )
            )


def _check_hooks(config, out):
    hooks = config.get("hooks")
    if not isinstance(hooks, dict):
        return
    for kind, entries in hooks.items():
        if not isinstance(entries, list):
            continue
        for i, hook in enumerate(entries):
            if not isinstance(hook, dict):
                continue
            if isinstance(hook.get("path"), str) and not hook["path"].startswith("/"):
                out.append(
                    problem(
                        ["hooks", kind, i, "path"],
                        hook["path"],
                        "hook path must be absolute",
                        "use the absolute path of the hook program",
                        check="hooks",
                    )
                )
            _check_env(hook.get("env"), ["hooks", kind, i, "env"], out)
        if kind == "prestart" and entries:
            out.append(
                problem(
                    ["hooks", "prestart"],
                    entries,
                    "prestart hooks are deprecated",
                    "use createRuntime hooks",
                    level="warning",
                    check="hooks",
                )
            )


def _check_version(config, out):
    version = config.get("ociVersion")
    if isinstance(version, str) and not re.match(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$", version
    ):
        out.append(
            problem(
                ["ociVersion"],
                version,
                "ociVersion is not a SemVer 2.0.0 version",
                'use the spec version, e.g. "1.3.0"',
                check="version",
            )
        )


def _check_hostname(config, out):
    hostname = config.get("hostname")
    if isinstance(hostname, str) and hostname and (len(hostname) > 255 or not _HOSTNAME.match(hostname)):
        out.append(
            problem(
                ["hostname"],
                hostname,
                "hostname is not a valid DNS name",
                "use letters, digits and '-' in dot-separated labels",
                check="hostname",
            )
        )


def semantic_problems(config, bundle_dir=None, rootfs=None, rootfs_known=True):
    """The checks oci-runtime-tool validate (and runc) make beyond the schema.

    bundle_dir: the bundle directory, for the root checks (None skips them).
    rootfs: the root filesystem to look programs up in (None skips that check;
    defaults to the bundle's root when bundle_dir is given); it may differ from
    the bundle's root while a new rootfs is being built beside the bundle.
    rootfs_known: False when the rootfs content is not available yet (check
    mode before unpacking): the checks that look into it are skipped.
    """
    if not isinstance(config, dict):
        return [problem([], config, "config.json must hold a JSON object", "write a JSON object", check="load")]
    out = []
    if rootfs is None and bundle_dir is not None and rootfs_known:
        rootfs = _root_dir(config, bundle_dir)
    _check_version(config, out)
    _check_root(config, bundle_dir, out, rootfs=rootfs, rootfs_known=rootfs_known)
    _check_process(config, rootfs, out)
    _check_mounts(config, out, bundle_dir=bundle_dir)
    _check_linux(config, out)
    _check_annotations(config, out)
    _check_hooks(config, out)
    _check_hostname(config, out)
    return out


def validate_config(config, bundle_dir=None, rootfs=None, rootfs_known=True):
    """Schema problems, then semantic problems."""
    return schema_problems(config) + semantic_problems(
        config, bundle_dir=bundle_dir, rootfs=rootfs, rootfs_known=rootfs_known
    )
