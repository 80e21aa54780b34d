"""Real-format configs (tests/fixtures/pve-configs) placed on a simulated node and restated with
nexcage_container, options derived from the config itself: changed=false, no command run, the
file byte for byte as it was; nexcage_health reads them all without crashing.

The restatement takes its vocabulary from the collection, not from a copy: the plain options are
the planner's (plan.SCALAR_OPTIONS, each the config key of the same name), the fields of netif,
features, rootfs and mounts are the suboptions nexcage_container documents, under the config's
own field names (a mount's mp is its mountpoint, ro its read_only). What is left out is not
managed, so it only has to survive: devN, unusedN, raw lxc.* lines, lock, template, [pve:pending]
deletions, snapshots, netN fields netif has no option for (type, trunks, link_down), rootfs size=0.
"""

import os
import sys

import pytest
import yaml

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.plan import SCALAR_OPTIONS
from ansible_collections.cageforge.nexcage.plugins.modules import nexcage_container

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = sorted(
    os.path.join(TOP, "tests", "fixtures", "pve-configs", name)
    for name in os.listdir(os.path.join(TOP, "tests", "fixtures", "pve-configs"))
    if name.endswith(".conf")
)
PVESIM_PKG = os.path.join(TOP, "tests", "pvesim")
OPTIONS = yaml.safe_load(nexcage_container.DOCUMENTATION)["options"]
# Mount fields whose option has another name than the config field (and the fields placed apart).
MOUNT_RENAMES = {"read_only": "ro", "mountpoint": "mp"}
MOUNT_PLACED = ("id", "host_path", "storage", "volume", "size")


def suboptions(option):
    return list(OPTIONS[option]["suboptions"])


def restated_options(vmid, config):
    """nexcage_container options that restate what the config says, as far as options can say it."""
    current = C.effective_config(config)
    options = {"vmid": vmid, "state": "present"}
    options.update({key: current[key] for key in SCALAR_OPTIONS if key in current})
    if "features" in current:
        options["features"] = {k: v for k, v in current["features"].items() if k in suboptions("features")}
    if "startup" in current:
        options["startup"] = current["startup"]
    if "rootfs" in current:
        rootfs = current["rootfs"]
        options["rootfs"] = {"storage": C.volume_storage(rootfs["volume"])}
        if rootfs.get("size"):  # size=0 (a plain directory) is not a size the option takes
            options["rootfs"]["size"] = C.format_size(rootfs["size"])
        options["rootfs"].update(
            {k: rootfs[k] for k in suboptions("rootfs") if k not in ("storage", "size") and k in rootfs}
        )
    nets = sorted((int(k[3:]), v) for k, v in current.items() if k.startswith("net") and isinstance(v, dict))
    options["netif"] = [{f: v[f] for f in suboptions("netif") if f in v} for _n, v in nets]
    options["mounts"] = [
        restated_mount(int(key[2:]), value)
        for key, value in sorted(current.items())
        if key.startswith("mp") and isinstance(value, dict)
    ]
    return options


def restated_mount(index, value):
    entry = {"id": index}
    if value["volume"].startswith("/"):
        entry["host_path"] = value["volume"]
    else:
        entry["storage"] = C.volume_storage(value["volume"])
        entry["size"] = C.format_size(value["size"])
    for option in suboptions("mounts"):
        field = MOUNT_RENAMES.get(option, option)
        if option not in MOUNT_PLACED and field in value:
            entry[option] = value[field]
    return entry


def place(node, vmid, text):
    """Put a config on the node as a registered container (what pct create would leave)."""
    register = "import sys; sys.path.insert(0, %r); from pvesim import node; node.register_guest(%d, 'lxc')"
    proc = node.sh(sys.executable, "-c", register % (PVESIM_PKG, vmid))
    assert proc.returncode == 0, proc.stderr
    with open(node.path("/etc/pve/lxc/%d.conf" % vmid), "wb") as handle:
        handle.write(text.encode("utf-8"))


@pytest.fixture(scope="module")
def placed(node):
    """Every corpus config on one node: {name: (vmid, text)}."""
    result = {}
    for index, path in enumerate(CORPUS):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        vmid = 9100 + index
        place(node, vmid, text)
        result[os.path.basename(path)] = (vmid, text)
    return result


def test_corpus_is_there():
    assert len(CORPUS) >= 12


def test_restating_each_real_config_changes_nothing(node, placed):
    names = sorted(placed)
    runs = []
    for name in names:
        vmid, text = placed[name]
        options = restated_options(vmid, C.parse_config(text))
        runs += [(options, True, True), (options, False, True)]
    results = node.run_tasks("nexcage_container", runs)
    problems = []
    for index, name in enumerate(names):
        vmid, text = placed[name]
        for result in results[2 * index : 2 * index + 2]:
            if result.get("failed") or result["changed"] or result["_calls"]:
                problems.append(
                    "%s: failed=%s changed=%s calls=%s msg=%s changes=%s"
                    % (
                        name,
                        result.get("failed"),
                        result.get("changed"),
                        result["_calls"],
                        result.get("msg"),
                        result.get("changes"),
                    )
                )
        with open(node.path("/etc/pve/lxc/%d.conf" % vmid), "rb") as handle:
            if handle.read() != text.encode("utf-8"):
                problems.append("%s: the config file changed" % name)
    assert problems == []


def test_health_reads_every_real_config(node, placed):
    assert placed
    result = node.run_task("nexcage_health", {"fail_on": "never"})
    assert not result.get("failed"), result.get("msg")
    assert "exception" not in result and "Traceback" not in result["_stderr"]
    checks = {check["name"]: check for check in result["checks"]}
    assert all(check["status"] in ("ok", "warn", "fail") for check in checks.values())
    # what the corpus really lacks on a fresh simulated node: the bridges vmbr1/vmbr2, and the
    # subordinate id raw-lxc.conf's lxc.idmap passes through
    # what the simulated node really lacks: bridges, a subuid range, and the volumes the placed configs
    # name (only their config files are placed: health's half_made check sees volumes that are gone)
    assert {name for name, check in checks.items() if check["status"] != "ok"} <= {"bridges", "subids", "half_made"}
    assert "bridge vmbr1 does not exist" in checks["bridges"]["detail"]
    assert "needs root:1005:1 in /etc/subuid" in checks["subids"]["detail"]
