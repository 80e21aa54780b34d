# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The project's JSON Schema (draft-04) for an OCI runtime ``config.json``. PRIVATE to the collection.

Data only. Source: the upstream runtime-spec 1.3.0 schema set (``schema/config-schema.json``,
``config-linux.json``, ``config-solaris.json``, ``config-windows.json``, ``config-vm.json``,
``config-zos.json``, ``config-freebsd.json``, ``defs*.json`` of github.com/opencontainers/runtime-spec)
merged into one self-contained document: every ``$ref`` is local (``#/definitions/...``), so no
network and no schema files are needed at run time. The unit tests check that it accepts and rejects
the same documents as the upstream files and fixtures (../shared/oci-runtime-spec).

One deliberate difference: upstream's ``ArrayOfUint32`` refers to ``#definitions/uint32`` (a broken
reference that makes jsonschema raise on a non-empty ``vm.hwConfig.irqs``); here it is
``#/definitions/uint32``.

To change it: edit the literal, then run tests/unit/plugins/module_utils/test_oci_schema.py.
"""

CONFIG_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "nexcage: OCI runtime config.json (runtime-spec 1.3.0)",
    "type": "object",
    "required": ["ociVersion"],
    "properties": {
        "ociVersion": {"$ref": "#/definitions/ociVersion"},
        "hooks": {
            "type": "object",
            "properties": {
                "prestart": {"$ref": "#/definitions/ArrayOfHooks"},
                "createRuntime": {"$ref": "#/definitions/ArrayOfHooks"},
                "createContainer": {"$ref": "#/definitions/ArrayOfHooks"},
                "startContainer": {"$ref": "#/definitions/ArrayOfHooks"},
                "poststart": {"$ref": "#/definitions/ArrayOfHooks"},
                "poststop": {"$ref": "#/definitions/ArrayOfHooks"},
            },
        },
        "annotations": {"$ref": "#/definitions/annotations"},
        "hostname": {"type": "string"},
        "domainname": {"type": "string"},
        "mounts": {"type": "array", "items": {"$ref": "#/definitions/Mount"}},
        "root": {
            "type": "object",
            "properties": {"path": {"$ref": "#/definitions/FilePath"}, "readonly": {"type": "boolean"}},
            "required": ["path"],
        },
        "process": {
            "type": "object",
            "properties": {
                "args": {"$ref": "#/definitions/ArrayOfStrings"},
                "commandLine": {"type": "string"},
                "consoleSize": {
                    "type": "object",
                    "properties": {
                        "height": {"$ref": "#/definitions/uint64"},
                        "width": {"$ref": "#/definitions/uint64"},
                    },
                    "required": ["height", "width"],
                },
                "cwd": {"type": "string"},
                "env": {"$ref": "#/definitions/Env"},
                "terminal": {"type": "boolean"},
                "user": {
                    "type": "object",
                    "properties": {
                        "uid": {"$ref": "#/definitions/UID"},
                        "gid": {"$ref": "#/definitions/GID"},
                        "umask": {"$ref": "#/definitions/Umask"},
                        "additionalGids": {"$ref": "#/definitions/ArrayOfGIDs"},
                        "username": {"type": "string"},
                    },
                },
                "capabilities": {
                    "type": "object",
                    "properties": {
                        "bounding": {"$ref": "#/definitions/ArrayOfStrings"},
                        "permitted": {"$ref": "#/definitions/ArrayOfStrings"},
                        "effective": {"$ref": "#/definitions/ArrayOfStrings"},
                        "inheritable": {"$ref": "#/definitions/ArrayOfStrings"},
                        "ambient": {"$ref": "#/definitions/ArrayOfStrings"},
                    },
                },
                "apparmorProfile": {"type": "string"},
                "oomScoreAdj": {"type": "integer"},
                "selinuxLabel": {"type": "string"},
                "ioPriority": {
                    "type": "object",
                    "properties": {
                        "class": {
                            "type": "string",
                            "enum": ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"],
                        },
                        "priority": {"$ref": "#/definitions/int32"},
                    },
                    "required": ["class"],
                },
                "noNewPrivileges": {"type": "boolean"},
                "scheduler": {
                    "type": "object",
                    "properties": {
                        "policy": {"$ref": "#/definitions/SchedulerPolicy"},
                        "nice": {"$ref": "#/definitions/int32"},
                        "priority": {"$ref": "#/definitions/int32"},
                        "flags": {"type": "array", "items": {"$ref": "#/definitions/SchedulerFlag"}},
                        "runtime": {"$ref": "#/definitions/uint64"},
                        "deadline": {"$ref": "#/definitions/uint64"},
                        "period": {"$ref": "#/definitions/uint64"},
                    },
                    "required": ["policy"],
                },
                "rlimits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "hard": {"$ref": "#/definitions/uint64"},
                            "soft": {"$ref": "#/definitions/uint64"},
                            "type": {"type": "string", "pattern": "^RLIMIT_[A-Z]+$"},
                        },
                        "required": ["type", "soft", "hard"],
                    },
                },
                "execCPUAffinity": {
                    "type": "object",
                    "properties": {
                        "initial": {"type": "string", "pattern": "^[0-9, -]*$"},
                        "final": {"type": "string", "pattern": "^[0-9, -]*$"},
                    },
                },
            },
            "required": ["cwd"],
        },
        "linux": {
            "type": "object",
            "properties": {
                "devices": {"type": "array", "items": {"$ref": "#/definitions/Device"}},
                "netDevices": {"type": "object", "additionalProperties": {"$ref": "#/definitions/NetDevice"}},
                "uidMappings": {"type": "array", "items": {"$ref": "#/definitions/IDMapping"}},
                "gidMappings": {"type": "array", "items": {"$ref": "#/definitions/IDMapping"}},
                "namespaces": {"type": "array", "items": {"anyOf": [{"$ref": "#/definitions/NamespaceReference"}]}},
                "resources": {
                    "type": "object",
                    "properties": {
                        "unified": {"$ref": "#/definitions/mapStringString"},
                        "devices": {"type": "array", "items": {"$ref": "#/definitions/DeviceCgroup"}},
                        "pids": {
                            "type": "object",
                            "properties": {"limit": {"$ref": "#/definitions/int64"}},
                            "required": ["limit"],
                        },
                        "blockIO": {
                            "type": "object",
                            "properties": {
                                "weight": {"$ref": "#/definitions/weight"},
                                "leafWeight": {"$ref": "#/definitions/weight"},
                                "throttleReadBpsDevice": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/blockIODeviceThrottle"},
                                },
                                "throttleWriteBpsDevice": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/blockIODeviceThrottle"},
                                },
                                "throttleReadIOPSDevice": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/blockIODeviceThrottle"},
                                },
                                "throttleWriteIOPSDevice": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/blockIODeviceThrottle"},
                                },
                                "weightDevice": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/blockIODeviceWeight"},
                                },
                            },
                        },
                        "cpu": {
                            "type": "object",
                            "properties": {
                                "cpus": {"type": "string"},
                                "mems": {"type": "string"},
                                "period": {"$ref": "#/definitions/uint64"},
                                "quota": {"$ref": "#/definitions/int64"},
                                "burst": {"$ref": "#/definitions/uint64"},
                                "realtimePeriod": {"$ref": "#/definitions/uint64"},
                                "realtimeRuntime": {"$ref": "#/definitions/int64"},
                                "shares": {"$ref": "#/definitions/uint64"},
                                "idle": {"$ref": "#/definitions/int64"},
                            },
                        },
                        "hugepageLimits": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "pageSize": {"type": "string", "pattern": "^[1-9][0-9]*[KMG]B$"},
                                    "limit": {"$ref": "#/definitions/uint64"},
                                },
                                "required": ["pageSize", "limit"],
                            },
                        },
                        "memory": {
                            "type": "object",
                            "properties": {
                                "kernel": {"$ref": "#/definitions/int64"},
                                "kernelTCP": {"$ref": "#/definitions/int64"},
                                "limit": {"$ref": "#/definitions/int64"},
                                "reservation": {"$ref": "#/definitions/int64"},
                                "swap": {"$ref": "#/definitions/int64"},
                                "swappiness": {"$ref": "#/definitions/uint64"},
                                "disableOOMKiller": {"type": "boolean"},
                                "useHierarchy": {"type": "boolean"},
                                "checkBeforeUpdate": {"type": "boolean"},
                            },
                        },
                        "network": {
                            "type": "object",
                            "properties": {
                                "classID": {"$ref": "#/definitions/uint32"},
                                "priorities": {
                                    "type": "array",
                                    "items": {"$ref": "#/definitions/NetworkInterfacePriority"},
                                },
                            },
                        },
                        "rdma": {"type": "object", "additionalProperties": {"$ref": "#/definitions/Rdma"}},
                    },
                },
                "cgroupsPath": {"type": "string"},
                "rootfsPropagation": {"$ref": "#/definitions/RootfsPropagation"},
                "seccomp": {
                    "type": "object",
                    "properties": {
                        "defaultAction": {"$ref": "#/definitions/SeccompAction"},
                        "defaultErrnoRet": {"$ref": "#/definitions/uint32"},
                        "flags": {"type": "array", "items": {"$ref": "#/definitions/SeccompFlag"}},
                        "listenerPath": {"type": "string"},
                        "listenerMetadata": {"type": "string"},
                        "architectures": {"type": "array", "items": {"$ref": "#/definitions/SeccompArch"}},
                        "syscalls": {"type": "array", "items": {"$ref": "#/definitions/Syscall"}},
                    },
                    "required": ["defaultAction"],
                },
                "sysctl": {"$ref": "#/definitions/mapStringString"},
                "maskedPaths": {"$ref": "#/definitions/ArrayOfStrings"},
                "readonlyPaths": {"$ref": "#/definitions/ArrayOfStrings"},
                "mountLabel": {"type": "string"},
                "intelRdt": {
                    "type": "object",
                    "properties": {
                        "closID": {"type": "string"},
                        "schemata": {"$ref": "#/definitions/ArrayOfStrings"},
                        "l3CacheSchema": {"type": "string"},
                        "memBwSchema": {"type": "string", "pattern": "^MB:[^\\n]*$"},
                        "enableMonitoring": {"type": "boolean"},
                    },
                },
                "memoryPolicy": {
                    "type": "object",
                    "properties": {
                        "mode": {"$ref": "#/definitions/MemoryPolicyMode"},
                        "nodes": {"type": "string"},
                        "flags": {"type": "array", "items": {"$ref": "#/definitions/MemoryPolicyFlag"}},
                    },
                },
                "personality": {"type": "object", "$ref": "#/definitions/Personality"},
                "timeOffsets": {
                    "type": "object",
                    "properties": {
                        "boottime": {"$ref": "#/definitions/TimeOffsets"},
                        "monotonic": {"$ref": "#/definitions/TimeOffsets"},
                    },
                },
            },
        },
        "solaris": {
            "type": "object",
            "properties": {
                "milestone": {"type": "string"},
                "limitpriv": {"type": "string"},
                "maxShmMemory": {"type": "string"},
                "cappedCPU": {"type": "object", "properties": {"ncpus": {"type": "string"}}},
                "cappedMemory": {
                    "type": "object",
                    "properties": {"physical": {"type": "string"}, "swap": {"type": "string"}},
                },
                "anet": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "linkname": {"type": "string"},
                            "lowerLink": {"type": "string"},
                            "allowedAddress": {"type": "string"},
                            "configureAllowedAddress": {"type": "string"},
                            "defrouter": {"type": "string"},
                            "macAddress": {"type": "string"},
                            "linkProtection": {"type": "string"},
                        },
                    },
                },
            },
        },
        "windows": {
            "type": "object",
            "properties": {
                "layerFolders": {"type": "array", "items": {"$ref": "#/definitions/FilePath"}, "minItems": 1},
                "devices": {"type": "array", "items": {"$ref": "#/definitions/WindowsDevice"}},
                "resources": {
                    "type": "object",
                    "properties": {
                        "memory": {"type": "object", "properties": {"limit": {"$ref": "#/definitions/uint64"}}},
                        "cpu": {
                            "type": "object",
                            "properties": {
                                "count": {"$ref": "#/definitions/uint64"},
                                "shares": {"$ref": "#/definitions/uint16"},
                                "maximum": {"$ref": "#/definitions/uint16"},
                                "affinity": {
                                    "type": "object",
                                    "properties": {
                                        "mask": {"$ref": "#/definitions/uint64"},
                                        "group": {"$ref": "#/definitions/uint32"},
                                    },
                                },
                            },
                        },
                        "storage": {
                            "type": "object",
                            "properties": {
                                "iops": {"$ref": "#/definitions/uint64"},
                                "bps": {"$ref": "#/definitions/uint64"},
                                "sandboxSize": {"$ref": "#/definitions/uint64"},
                            },
                        },
                    },
                },
                "network": {
                    "type": "object",
                    "properties": {
                        "endpointList": {"$ref": "#/definitions/ArrayOfStrings"},
                        "allowUnqualifiedDNSQuery": {"type": "boolean"},
                        "DNSSearchList": {"$ref": "#/definitions/ArrayOfStrings"},
                        "networkSharedContainerName": {"type": "string"},
                        "networkNamespace": {"type": "string"},
                    },
                },
                "credentialSpec": {"type": "object"},
                "servicing": {"type": "boolean"},
                "ignoreFlushesDuringBoot": {"type": "boolean"},
                "hyperv": {"type": "object", "properties": {"utilityVMPath": {"type": "string"}}},
            },
            "required": ["layerFolders"],
        },
        "vm": {
            "type": "object",
            "properties": {
                "hypervisor": {
                    "type": "object",
                    "properties": {
                        "path": {"$ref": "#/definitions/FilePath"},
                        "parameters": {"$ref": "#/definitions/ArrayOfStrings"},
                    },
                    "required": ["path"],
                },
                "kernel": {
                    "type": "object",
                    "properties": {
                        "path": {"$ref": "#/definitions/FilePath"},
                        "parameters": {"$ref": "#/definitions/ArrayOfStrings"},
                        "initrd": {"$ref": "#/definitions/FilePath"},
                    },
                    "required": ["path"],
                },
                "image": {
                    "type": "object",
                    "properties": {
                        "path": {"$ref": "#/definitions/FilePath"},
                        "format": {"$ref": "#/definitions/RootImageFormat"},
                    },
                    "required": ["path", "format"],
                },
                "hwConfig": {
                    "type": "object",
                    "properties": {
                        "deviceTree": {"$ref": "#/definitions/FilePath"},
                        "vcpus": {"$ref": "#/definitions/uint32"},
                        "memory": {"$ref": "#/definitions/uint64"},
                        "dtdevs": {"$ref": "#/definitions/ArrayOfStrings"},
                        "iomems": {"type": "array", "items": [{"$ref": "#/definitions/IOMemEntryFormat"}]},
                        "irqs": {"$ref": "#/definitions/ArrayOfUint32"},
                    },
                },
            },
            "required": ["kernel"],
        },
        "zos": {
            "type": "object",
            "properties": {
                "namespaces": {"type": "array", "items": {"anyOf": [{"$ref": "#/definitions/ZosNamespaceReference"}]}}
            },
        },
        "freebsd": {
            "type": "object",
            "properties": {
                "devices": {"type": "array", "items": {"$ref": "#/definitions/FreebsdDevice"}},
                "jail": {
                    "type": "object",
                    "properties": {
                        "parent": {"type": "string"},
                        "host": {"$ref": "#/definitions/SharingModeNoDisable"},
                        "ip4": {"$ref": "#/definitions/SharingMode"},
                        "ip4Addr": {"$ref": "#/definitions/ArrayOfStrings"},
                        "ip6": {"$ref": "#/definitions/SharingMode"},
                        "ip6Addr": {"$ref": "#/definitions/ArrayOfStrings"},
                        "vnet": {"$ref": "#/definitions/SharingModeNoDisable"},
                        "interface": {"type": "string"},
                        "vnetInterfaces": {"$ref": "#/definitions/ArrayOfStrings"},
                        "sysvmsg": {"$ref": "#/definitions/SharingMode"},
                        "sysvsem": {"$ref": "#/definitions/SharingMode"},
                        "sysvshm": {"$ref": "#/definitions/SharingMode"},
                        "enforceStatfs": {"$ref": "#/definitions/uint8"},
                        "allow": {
                            "type": "object",
                            "properties": {
                                "setHostname": {"type": "boolean"},
                                "rawSockets": {"type": "boolean"},
                                "chflags": {"type": "boolean"},
                                "mount": {"$ref": "#/definitions/ArrayOfStrings"},
                                "quotas": {"type": "boolean"},
                                "socketAf": {"type": "boolean"},
                                "mlock": {"type": "boolean"},
                                "reservedPorts": {"type": "boolean"},
                                "suser": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
    },
    "definitions": {
        "int8": {"type": "integer", "minimum": -128, "maximum": 127},
        "int16": {"type": "integer", "minimum": -32768, "maximum": 32767},
        "int32": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
        "int64": {"type": "integer", "minimum": -9223372036854775808, "maximum": 9223372036854775807},
        "uint8": {"type": "integer", "minimum": 0, "maximum": 255},
        "uint16": {"type": "integer", "minimum": 0, "maximum": 65535},
        "uint32": {"type": "integer", "minimum": 0, "maximum": 4294967295},
        "uint64": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
        "percent": {"type": "integer", "minimum": 0, "maximum": 100},
        "mapStringString": {"type": "object", "patternProperties": {".{1,}": {"type": "string"}}},
        "UID": {"$ref": "#/definitions/uint32"},
        "GID": {"$ref": "#/definitions/uint32"},
        "Umask": {"$ref": "#/definitions/uint32"},
        "ArrayOfGIDs": {"type": "array", "items": {"$ref": "#/definitions/GID"}},
        "ArrayOfStrings": {"type": "array", "items": {"type": "string"}},
        "ArrayOfUint32": {"type": "array", "items": {"$ref": "#/definitions/uint32"}},
        "FileMode": {"type": "integer", "minimum": 0, "maximum": 511},
        "FilePath": {"type": "string"},
        "Env": {"$ref": "#/definitions/ArrayOfStrings"},
        "Hook": {
            "type": "object",
            "properties": {
                "path": {"$ref": "#/definitions/FilePath"},
                "args": {"$ref": "#/definitions/ArrayOfStrings"},
                "env": {"$ref": "#/definitions/Env"},
                "timeout": {"type": "integer", "minimum": 1},
            },
            "required": ["path"],
        },
        "ArrayOfHooks": {"type": "array", "items": {"$ref": "#/definitions/Hook"}},
        "IDMapping": {
            "type": "object",
            "properties": {
                "containerID": {"$ref": "#/definitions/uint32"},
                "hostID": {"$ref": "#/definitions/uint32"},
                "size": {"$ref": "#/definitions/uint32"},
            },
            "required": ["containerID", "hostID", "size"],
        },
        "Mount": {
            "type": "object",
            "properties": {
                "source": {"$ref": "#/definitions/FilePath"},
                "destination": {"$ref": "#/definitions/FilePath"},
                "options": {"$ref": "#/definitions/ArrayOfStrings"},
                "type": {"type": "string"},
                "uidMappings": {"type": "array", "items": {"$ref": "#/definitions/IDMapping"}},
                "gidMappings": {"type": "array", "items": {"$ref": "#/definitions/IDMapping"}},
            },
            "required": ["destination"],
        },
        "ociVersion": {"type": "string"},
        "annotations": {"$ref": "#/definitions/mapStringString"},
        "PersonalityDomain": {"type": "string", "enum": ["LINUX", "LINUX32"]},
        "Personality": {
            "type": "object",
            "properties": {
                "domain": {"$ref": "#/definitions/PersonalityDomain"},
                "flags": {"$ref": "#/definitions/ArrayOfStrings"},
            },
        },
        "RootfsPropagation": {"type": "string", "enum": ["private", "shared", "slave", "unbindable"]},
        "SeccompArch": {
            "type": "string",
            "enum": [
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X86_64",
                "SCMP_ARCH_X32",
                "SCMP_ARCH_ARM",
                "SCMP_ARCH_AARCH64",
                "SCMP_ARCH_LOONGARCH64",
                "SCMP_ARCH_M68K",
                "SCMP_ARCH_MIPS",
                "SCMP_ARCH_MIPS64",
                "SCMP_ARCH_MIPS64N32",
                "SCMP_ARCH_MIPSEL",
                "SCMP_ARCH_MIPSEL64",
                "SCMP_ARCH_MIPSEL64N32",
                "SCMP_ARCH_PPC",
                "SCMP_ARCH_PPC64",
                "SCMP_ARCH_PPC64LE",
                "SCMP_ARCH_S390",
                "SCMP_ARCH_S390X",
                "SCMP_ARCH_SH",
                "SCMP_ARCH_SHEB",
                "SCMP_ARCH_PARISC",
                "SCMP_ARCH_PARISC64",
                "SCMP_ARCH_RISCV64",
            ],
        },
        "SeccompAction": {
            "type": "string",
            "enum": [
                "SCMP_ACT_KILL",
                "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD",
                "SCMP_ACT_TRAP",
                "SCMP_ACT_ERRNO",
                "SCMP_ACT_TRACE",
                "SCMP_ACT_ALLOW",
                "SCMP_ACT_LOG",
                "SCMP_ACT_NOTIFY",
            ],
        },
        "SeccompFlag": {
            "type": "string",
            "enum": [
                "SECCOMP_FILTER_FLAG_TSYNC",
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            ],
        },
        "SeccompOperators": {
            "type": "string",
            "enum": [
                "SCMP_CMP_NE",
                "SCMP_CMP_LT",
                "SCMP_CMP_LE",
                "SCMP_CMP_EQ",
                "SCMP_CMP_GE",
                "SCMP_CMP_GT",
                "SCMP_CMP_MASKED_EQ",
            ],
        },
        "SyscallArg": {
            "type": "object",
            "properties": {
                "index": {"$ref": "#/definitions/uint32"},
                "value": {"$ref": "#/definitions/uint64"},
                "valueTwo": {"$ref": "#/definitions/uint64"},
                "op": {"$ref": "#/definitions/SeccompOperators"},
            },
            "required": ["index", "value", "op"],
        },
        "Syscall": {
            "type": "object",
            "properties": {
                "names": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "action": {"$ref": "#/definitions/SeccompAction"},
                "errnoRet": {"$ref": "#/definitions/uint32"},
                "args": {"type": "array", "items": {"$ref": "#/definitions/SyscallArg"}},
            },
            "required": ["names", "action"],
        },
        "Major": {"$ref": "#/definitions/int64"},
        "Minor": {"$ref": "#/definitions/int64"},
        "FileType": {"type": "string", "pattern": "^[cbup]$"},
        "Device": {
            "type": "object",
            "properties": {
                "type": {"$ref": "#/definitions/FileType"},
                "path": {"$ref": "#/definitions/FilePath"},
                "fileMode": {"$ref": "#/definitions/FileMode"},
                "major": {"$ref": "#/definitions/Major"},
                "minor": {"$ref": "#/definitions/Minor"},
                "uid": {"$ref": "#/definitions/UID"},
                "gid": {"$ref": "#/definitions/GID"},
            },
            "required": ["type", "path"],
        },
        "NetDevice": {"type": "object", "properties": {"name": {"type": "string"}}},
        "weight": {"$ref": "#/definitions/uint16"},
        "blockIODevice": {
            "type": "object",
            "properties": {"major": {"$ref": "#/definitions/Major"}, "minor": {"$ref": "#/definitions/Minor"}},
            "required": ["major", "minor"],
        },
        "blockIODeviceWeight": {
            "type": "object",
            "allOf": [
                {"$ref": "#/definitions/blockIODevice"},
                {
                    "type": "object",
                    "properties": {
                        "weight": {"$ref": "#/definitions/weight"},
                        "leafWeight": {"$ref": "#/definitions/weight"},
                    },
                },
            ],
        },
        "blockIODeviceThrottle": {
            "allOf": [
                {"$ref": "#/definitions/blockIODevice"},
                {"type": "object", "properties": {"rate": {"$ref": "#/definitions/uint64"}}},
            ]
        },
        "DeviceCgroup": {
            "type": "object",
            "properties": {
                "allow": {"type": "boolean"},
                "type": {"type": "string"},
                "major": {"$ref": "#/definitions/Major"},
                "minor": {"$ref": "#/definitions/Minor"},
                "access": {"type": "string"},
            },
            "required": ["allow"],
        },
        "MemoryPolicyMode": {
            "type": "string",
            "enum": [
                "MPOL_DEFAULT",
                "MPOL_BIND",
                "MPOL_INTERLEAVE",
                "MPOL_WEIGHTED_INTERLEAVE",
                "MPOL_PREFERRED",
                "MPOL_PREFERRED_MANY",
                "MPOL_LOCAL",
            ],
        },
        "MemoryPolicyFlag": {
            "type": "string",
            "enum": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"],
        },
        "NetworkInterfacePriority": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "priority": {"$ref": "#/definitions/uint32"}},
            "required": ["name", "priority"],
        },
        "Rdma": {
            "type": "object",
            "properties": {
                "hcaHandles": {"$ref": "#/definitions/uint32"},
                "hcaObjects": {"$ref": "#/definitions/uint32"},
            },
        },
        "NamespaceType": {
            "type": "string",
            "enum": ["mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"],
        },
        "NamespaceReference": {
            "type": "object",
            "properties": {"type": {"$ref": "#/definitions/NamespaceType"}, "path": {"$ref": "#/definitions/FilePath"}},
            "required": ["type"],
        },
        "TimeOffsets": {
            "type": "object",
            "properties": {"secs": {"$ref": "#/definitions/int64"}, "nanosecs": {"$ref": "#/definitions/uint32"}},
        },
        "SchedulerPolicy": {
            "type": "string",
            "enum": [
                "SCHED_OTHER",
                "SCHED_FIFO",
                "SCHED_RR",
                "SCHED_BATCH",
                "SCHED_ISO",
                "SCHED_IDLE",
                "SCHED_DEADLINE",
            ],
        },
        "SchedulerFlag": {
            "type": "string",
            "enum": [
                "SCHED_FLAG_RESET_ON_FORK",
                "SCHED_FLAG_RECLAIM",
                "SCHED_FLAG_DL_OVERRUN",
                "SCHED_FLAG_KEEP_POLICY",
                "SCHED_FLAG_KEEP_PARAMS",
                "SCHED_FLAG_UTIL_CLAMP_MIN",
                "SCHED_FLAG_UTIL_CLAMP_MAX",
            ],
        },
        "RootImageFormat": {"type": "string", "enum": ["raw", "qcow2", "vdi", "vmdk", "vhd"]},
        "IOMemEntryFormat": {
            "type": "object",
            "properties": {
                "firstGFN": {"$ref": "#/definitions/uint64"},
                "firstMFN": {"$ref": "#/definitions/uint64"},
                "nrMFNs": {"$ref": "#/definitions/uint64"},
            },
            "required": ["firstMFN", "nrMFNs"],
        },
        "WindowsDevice": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "idType": {"type": "string", "enum": ["class"]}},
            "required": ["id", "idType"],
        },
        "ZosNamespaceType": {"type": "string", "enum": ["mount", "pid", "uts", "ipc"]},
        "ZosNamespaceReference": {
            "type": "object",
            "properties": {
                "type": {"$ref": "#/definitions/ZosNamespaceType"},
                "path": {"$ref": "#/definitions/FilePath"},
            },
            "required": ["type"],
        },
        "FreebsdDevice": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "mode": {"$ref": "#/definitions/FileMode"}},
        },
        "SharingMode": {"type": "string", "enum": ["disable", "new", "inherit"]},
        "SharingModeNoDisable": {"type": "string", "enum": ["new", "inherit"]},
    },
}
