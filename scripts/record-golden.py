"""Record the golden corpus: Proxmox VE's own code (../shared/pve-oracle) answers every case.

`make golden` runs this. It installs the Perl packages the oracle needs (apt-get), builds the
cases (hand-picked edge cases plus generated ones from a fixed seed), runs oracle.pl once inside
a private network namespace that has the bridges vmbr0 and vmbr1, and rewrites tests/golden/*.jsonl
(one case a line, sorted by id). A second run writes the same bytes.

The cases themselves are built by tests/golden/cases.py (data only, no Perl); this script only
runs them and stores the answers.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(TOP, "tests", "golden")
sys.path.insert(0, GOLDEN)

import cases  # noqa: E402 (tests/golden is not a package)
import corpus  # noqa: E402

ORACLE_DIR = os.path.join(os.path.dirname(TOP), "shared", "pve-oracle")

PERL_PACKAGES = [
    "libjson-perl",
    "libnet-ip-perl",
    "libdevel-cycle-perl",
    "libencode-locale-perl",
    "libhttp-message-perl",
    "libtimedate-perl",
    "libfilesys-df-perl",
    "libclone-perl",
    "liblinux-inotify2-perl",
    "libnet-ssleay-perl",
    "libuuid-perl",
    "libcrypt-openssl-rsa-perl",
    "libcrypt-openssl-random-perl",
    "libstring-shellquote-perl",
    "liburi-perl",
    "libnetaddr-ip-perl",
    "libmime-base32-perl",
    "libauthen-pam-perl",
    "libnet-ldap-perl",
    "libwww-perl",
    "libanyevent-perl",
    "libfile-chdir-perl",
    "libposix-strptime-perl",
    "libyaml-libyaml-perl",
    "libxml-libxml-perl",
    "libnet-dbus-perl",
    "librrds-perl",
    "lxc",
    "tar",
]

# The oracle runs in its own network and mount namespace: the node's bridges vmbr0 and vmbr1
# exist (and /sys/class/net shows this namespace), and a no-op `udevadm` is in /usr/bin as on a
# real node (pve-storage runs `udevadm settle` after allocating a volume; pct resets PATH).
NETNS_SETUP = (
    "ip link set lo up && "
    "ip link add vmbr0 type bridge && ip link set vmbr0 up && "
    "ip link add vmbr1 type bridge && ip link set vmbr1 up && "
    "mount --make-rprivate / && mount -t sysfs sysfs /sys && "
    'mount -t overlay overlay -o "lowerdir=$1:/usr/bin" /usr/bin && '
    'exec perl "$0"'
)


def run(argv, **kw):
    return subprocess.run(argv, check=False, env=dict(os.environ, LANG="C"), **kw)


def missing_packages():
    res = run(["dpkg-query", "-W", "-f=${Package} ${Status}\n", *PERL_PACKAGES], capture_output=True, text=True)
    installed = {line.split()[0] for line in res.stdout.splitlines() if line.endswith(" installed")}
    return [p for p in PERL_PACKAGES if p not in installed]


def install_packages():
    missing = missing_packages()
    if not missing:
        return
    print("installing: %s" % " ".join(missing), flush=True)
    for attempt in range(30):  # another apt-get may hold the dpkg lock for a while
        res = run(["apt-get", "install", "-y", "--no-install-recommends", *missing], timeout=900)
        if res.returncode == 0:
            return
        if attempt == 0:
            run(["apt-get", "update"], timeout=600)
        time.sleep(10)
    sys.exit("record-golden: apt-get install failed: %s" % " ".join(missing))


def run_oracle(requests):
    oracle = os.path.join(ORACLE_DIR, "oracle.pl")
    if not os.path.isfile(oracle):
        sys.exit("record-golden: %s is missing (the pve-oracle lives in ../shared beside the checkout)" % oracle)
    env = dict(os.environ, LANG="C", TZ="UTC", PVE_ORACLE_TZ="UTC")
    payload = "".join(json.dumps(r, sort_keys=True) + "\n" for r in requests)
    shutil.rmtree(cases.STORAGE_ROOT, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="record-golden-") as bindir:
        with open(os.path.join(bindir, "udevadm"), "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(os.path.join(bindir, "udevadm"), 0o755)
        argv = ["unshare", "--net", "--mount", "sh", "-c", NETNS_SETUP, oracle, bindir]
        answers = []
        with (
            tempfile.TemporaryFile(mode="w+") as errors,
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=env
            ) as proc,
        ):
            for line in payload.splitlines():
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
                answer = proc.stdout.readline()
                if not answer:
                    errors.seek(0)
                    sys.exit(
                        "record-golden: the oracle stopped after %d requests\n%s"
                        % (len(answers), errors.read()[-4000:])
                    )
                answers.append(json.loads(answer))
                # Each case starts from empty storages (PVE names a new volume after the ones there).
                shutil.rmtree(cases.STORAGE_ROOT, ignore_errors=True)
            proc.stdin.close()
    return answers


def as_file_bytes(text):
    """Text as a real node's Perl sees files and argv: bytes (one Perl character per UTF-8 byte)."""
    return text.encode("utf-8").decode("latin-1")


def from_file_bytes(value):
    """Back from bytes-as-characters to text, wherever the answer kept the file's bytes."""
    if isinstance(value, dict):
        return {k: from_file_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_file_bytes(v) for v in value]
    if isinstance(value, str):
        try:
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value
    return value


def pct_result(case, answer, base_sets):
    """rc, stdout, stderr and the config files that changed (None = removed); random MACs masked."""
    given = corpus.given_macs(case)
    return {
        "rc": answer["rc"],
        "stdout": corpus.mask_random_macs(answer["stdout"], given),
        "stderr": corpus.mask_random_macs(answer["stderr"], given),
        "files": corpus.changed_files(corpus.case_files(case, base_sets), answer.get("files") or {}, given),
    }


def cgroup_mode():
    """Of the recording host, as PVE::CGroup sees it (it decides how cpuunits are clamped)."""
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "/sys/fs/cgroup":
                return 2 if fields[2] == "cgroup2" else 1
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--no-install", action="store_true", help="do not apt-get the Perl packages")
    ap.add_argument("--install-only", action="store_true", help="apt-get the Perl packages and stop (make setup)")
    args = ap.parse_args()
    if not args.no_install:
        install_packages()
    if args.install_only:
        return
    bases = cases.BASES
    kinds = cases.all_cases()
    flat = [(kind, case) for kind in sorted(kinds) for case in kinds[kind]]
    requests = []
    for kind, case in flat:
        if kind == "configs":
            req = dict(case["request"], raw=as_file_bytes(case["request"]["raw"]))
        elif kind != "pct":
            req = case["request"]
        else:
            files = {rel: as_file_bytes(text) for rel, text in corpus.case_files(case, bases).items()}
            req = {"op": "pct", "args": [as_file_bytes(a) for a in case["args"]], "files": files}
        requests.append(req)
    t0 = time.monotonic()
    answers = run_oracle(requests)
    print("oracle: %d requests in %.1f s" % (len(requests), time.monotonic() - t0))
    out = {kind: [] for kind in kinds}
    for (kind, case), answer in zip(flat, answers, strict=True):
        rec = {k: v for k, v in case.items() if k != "request"} if kind == "pct" else dict(case)
        if kind in ("configs", "pct"):
            answer = from_file_bytes(answer)
        rec["result"] = pct_result(case, answer, bases) if kind == "pct" else answer
        out[kind].append(rec)
    for rec in out["propstrings"]:
        if rec["request"]["op"] == "parse_net" and "net" in rec["result"] and "hwaddr=" not in rec["request"]["value"]:
            rec["result"]["net"]["hwaddr"] = "@MAC@"  # random even with a seed: not reproducible
    derived = cases.print_cases(out["propstrings"])
    for case, answer in zip(derived, run_oracle([c["request"] for c in derived]), strict=True):
        out["propstrings"].append(dict(case, result=answer))
    for kind, recs in sorted(out.items()):
        recs.sort(key=lambda r: r["id"])
        path = os.path.join(GOLDEN, "%s.jsonl" % kind)
        with open(path, "w", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")
        print("%s: %d cases" % (os.path.relpath(path, TOP), len(recs)))
    with open(os.path.join(GOLDEN, "meta.json"), "w", encoding="utf-8") as f:
        json.dump({"cgroup_mode": cgroup_mode(), "seed": cases.SEED}, f, sort_keys=True)
        f.write("\n")
    with open(os.path.join(GOLDEN, "bases.json"), "w", encoding="utf-8") as f:
        json.dump(bases, f, sort_keys=True, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
