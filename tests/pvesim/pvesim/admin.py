"""The `pvesim` admin command (contract in tests/pvesim/README.md)."""

import argparse
import fcntl
import json
import os
import sys

from pvesim import cli, namespace, node


def _state_file(root, path):
    return os.path.join(os.path.realpath(root), path.lstrip("/"))


def cmd_init(args):
    from pvesim import setup

    try:
        setup.init_node(os.path.realpath(args.dir), args.node)
    except setup.NodeExists:
        sys.stderr.write("pvesim: %s is already a simulated node; remove it first for a fresh one\n" % args.dir)
        return 1
    return 0


def cmd_run(args):
    argv = args.command
    if argv and argv[0] == "--":
        argv = argv[1:]
    return namespace.run(args.root, argv)


def cmd_calls(args):
    calls = []
    try:
        with open(_state_file(args.root, node.CALL_LOG), encoding="utf-8") as f:
            calls = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        pass
    if args.json:
        json.dump(calls, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for c in calls:
            print("%8.3fs rc=%-3d %s" % (c["duration"], c["rc"], " ".join(c["argv"])))
    return 0


def cmd_fault(args):
    # Same lock as cli._take_fault, so a fault added while tools run is not lost.
    with open(_state_file(args.root, node.FAULTS), "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        faults = [] if args.action == "clear" else json.loads(f.read() or "[]")
        if args.action == "add":
            fault = {"match": args.match, "stderr": args.stderr, "rc": args.rc, "hang": args.hang, "times": args.times}
            if args.at:
                fault.update(at=args.at, kill=args.kill, nth=args.nth)
            elif args.kill or args.nth:
                sys.stderr.write("pvesim: --kill and --nth need --at PHASE\n")
                return 2
            faults.append(fault)
        f.seek(0)
        f.truncate()
        json.dump(faults, f)
    return 0


def cmd_seed_vm(args):
    if not 100 <= args.vmid <= 999999999:
        sys.stderr.write("pvesim: VMID %s is outside 100..999999999\n" % args.vmid)
        return 2
    # Writes happen inside the node's namespace, through the same code pct uses.
    return namespace.run(args.root, [os.path.join(namespace.BIN_DIR, "pvesim"), "_seed-vm-here", str(args.vmid)])


def cmd_seed_vm_here(args):
    qemu_dir = node.qemu_conf_dir()
    os.makedirs(qemu_dir, exist_ok=True)
    with node.cluster_lock():
        try:
            node.register_guest(args.vmid, "qemu")
        except node.GuestExists:
            sys.stderr.write("pvesim: VMID %s is already taken\n" % args.vmid)
            return 1
        with open(os.path.join(qemu_dir, "%s.conf" % args.vmid), "w", encoding="utf-8") as f:
            # qm list reads the boot disk size from scsi0; the volume itself is not simulated.
            f.write("memory: 2048\nname: vm%s\nscsi0: local-zfs:vm-%s-disk-0,size=32G\n" % (args.vmid, args.vmid))
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv):
    p = argparse.ArgumentParser(prog="pvesim", description="A simulated Proxmox VE node.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("init", help="make a fresh node in DIR")
    s.add_argument("dir")
    s.add_argument("--node", default="pve")
    s.set_defaults(func=cmd_init)
    s = sub.add_parser("run", help="run COMMAND with the node where a real node's files are")
    s.add_argument("--root", required=True)
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_run)
    s = sub.add_parser("calls", help="print the call log")
    s.add_argument("--root", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_calls)
    s = sub.add_parser("fault", help="make matching calls fail or hang")
    s.add_argument("--root", required=True)
    fsub = s.add_subparsers(dest="action", required=True)
    a = fsub.add_parser("add")
    a.add_argument("--match", required=True)
    a.add_argument("--stderr")
    a.add_argument("--rc", type=int)
    a.add_argument("--hang", type=float)
    a.add_argument("--times", type=_positive_int, help="apply to the next N matching calls only")
    phases = sorted({p for names in cli.PHASES.values() for p in names})
    a.add_argument("--at", choices=phases, help="strike at this point inside the command (see README)")
    a.add_argument("--kill", action="store_true", help="with --at: SIGKILL the command there")
    a.add_argument("--nth", type=_positive_int, help="with --at: the Nth time the point is reached (default 1)")
    fsub.add_parser("clear")
    s.set_defaults(func=cmd_fault)
    s = sub.add_parser("seed-vm", help="register a QEMU VM in .vmlist")
    s.add_argument("--root", required=True)
    s.add_argument("vmid", type=int)
    s.set_defaults(func=cmd_seed_vm)
    s = sub.add_parser("_seed-vm-here")
    s.add_argument("vmid", type=int)
    s.set_defaults(func=cmd_seed_vm_here)
    args = p.parse_args(argv)
    return args.func(args)
