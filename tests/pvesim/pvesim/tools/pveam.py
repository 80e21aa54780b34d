"""Simulated `pveam` (pve-cli-facts §6): list, available, download, remove, update.

The "internet" is the node's local catalogue, /var/lib/pvesim/catalogue
(aplinfo.dat + system/<files>, made by `pvesim init`); `pveam update` copies
its aplinfo.dat to the index /var/lib/pvesim/pveam/aplinfo.dat, which
`available` and `download` read. `download` copies the catalogue file and
checks its sha512 against the index, printing PVE's lines (the wget progress
lines are left out); as on PVE it exits 0 even when the download task fails.
"""

import hashlib
import os
import shutil
import sys

from pvesim import cli, setup, storage
from pvesim.tools.pvesm import dispatch

SECTIONS = ("system", "mail", "turnkeylinux")


def _index():
    try:
        with open(setup.PVEAM_INDEX, encoding="utf-8") as f:
            return setup.parse_aplinfo(f.read())
    except FileNotFoundError:
        return []


def _filename(entry):
    return os.path.basename(entry.get("Location", ""))


# ---------------------------------------------------------------- list

LIST_USAGE = "pveam list <storage>"


def cmd_list(args):
    pos, _raw = cli.parse_args(args, {}, 1, LIST_USAGE)
    sid = pos[0]
    scfg = storage.get_storage(sid)
    if "vztmpl" not in scfg["content"]:
        raise cli.PveError("Storage does not support templates!")
    out = "%-60s %s\n" % ("NAME", "SIZE")
    for v in storage.list_content(sid, content="vztmpl"):
        out += "%-60s %4.2fMB\n" % (v["volid"], v["size"] / (1024 * 1024))
    sys.stdout.write(out)
    return 0


# ---------------------------------------------------------------- available

AVAILABLE_USAGE = "pveam available [OPTIONS]"
AVAILABLE_SPEC = {"section": cli.Opt(enum=SECTIONS)}


def cmd_available(args):
    _pos, raw = cli.parse_args(args, AVAILABLE_SPEC, 0, AVAILABLE_USAGE)
    opts, errors = cli.check_types(raw, AVAILABLE_SPEC)
    if errors:
        raise cli.ParamError(errors, AVAILABLE_USAGE)
    entries = [e for e in _index() if not opts.get("section") or e.get("Section") == opts["section"]]
    entries.sort(key=lambda e: (e.get("Section", ""), _filename(e)))
    out = ""
    for e in entries:
        out += "%-15s %-60s %s\n" % (e.get("Section", ""), _filename(e), e.get("Architecture") or "unknown")
    sys.stdout.write(out)
    return 0


# ---------------------------------------------------------------- download

DOWNLOAD_USAGE = "pveam download <storage> <template>"


def _sha512(path):
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_download(args):
    pos, _raw = cli.parse_args(args, {}, 2, DOWNLOAD_USAGE)
    sid, template = pos
    entry = next((e for e in _index() if _filename(e) == template), None)
    if entry is None:
        raise cli.ParamError({"template": "no such template"}, DOWNLOAD_USAGE)
    scfg = storage.check_enabled(sid)
    if "vztmpl" not in scfg["content"]:
        raise cli.PveError("storage '%s' does not support templates" % sid)
    url = "%s/%s" % (setup.CATALOGUE_URL, entry["Location"])
    dest = storage.resolve_template("%s:vztmpl/%s" % (sid, template))
    expected = entry.get("sha512sum", "")
    # From here on we are "in the task": errors go to stderr, exit status stays 0.
    print("downloading %s to %s" % (url, dest))
    sys.stdout.flush()
    try:
        if os.path.isfile(dest):
            sys.stdout.write("calculating checksum of existing file...")
            got = _sha512(dest)
            if got == expected:
                print("OK, got correct file already, no need to download")
                return 0
            print()
            raise cli.TaskFailed("checksum mismatch: got '%s' != expect '%s', aborting" % (got, expected), rc=0)
        source = os.path.join(setup.CATALOGUE_DIR, entry["Location"])
        tmp = "%s.tmp_dwnl.%d" % (dest, os.getpid())
        try:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                shutil.copyfile(source, tmp)
            except FileNotFoundError:
                raise cli.TaskFailed("download failed: 404 Not Found (%s)" % url, rc=0) from None
            sys.stdout.write("calculating checksum...")
            got = _sha512(tmp)
            if got != expected:
                print()
                raise cli.TaskFailed("checksum mismatch: got '%s' != expect '%s'" % (got, expected), rc=0)
            print("OK, checksum verified")
            os.rename(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        print("download of '%s' to '%s' finished" % (url, dest))
    except OSError as e:
        raise cli.TaskFailed("download failed: %s" % e, rc=0) from None
    return 0


# ---------------------------------------------------------------- remove, update

REMOVE_USAGE = "pveam remove <template_path>"


def cmd_remove(args):
    pos, _raw = cli.parse_args(args, {}, 1, REMOVE_USAGE)
    volid = pos[0]
    path = storage.resolve_template(volid)
    if not os.path.isfile(path):
        sys.stderr.write("disk image '%s' does not exist\n" % path)
        return 0
    os.unlink(path)
    return 0


UPDATE_USAGE = "pveam update"


def cmd_update(args):
    cli.parse_args(args, {}, 0, UPDATE_USAGE)
    source = os.path.join(setup.CATALOGUE_DIR, "aplinfo.dat")
    try:
        os.makedirs(os.path.dirname(setup.PVEAM_INDEX), exist_ok=True)
        shutil.copyfile(source, setup.PVEAM_INDEX + ".tmp")
        os.replace(setup.PVEAM_INDEX + ".tmp", setup.PVEAM_INDEX)
    except OSError:
        sys.stderr.write("update failed - see /var/log/pveam.log for details\n")
        return 0
    print("update successful")
    return 0


COMMANDS = {
    "list": (cmd_list, LIST_USAGE),
    "available": (cmd_available, AVAILABLE_USAGE),
    "download": (cmd_download, DOWNLOAD_USAGE),
    "remove": (cmd_remove, REMOVE_USAGE),
    "update": (cmd_update, UPDATE_USAGE),
}


def main(argv):
    return dispatch("pveam", argv, COMMANDS)
