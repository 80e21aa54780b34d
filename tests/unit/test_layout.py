"""The house rules of plugins/, checked on the source (issue 9): tool argv only from the runner's
builders, node paths only in the node layer, short functions, import names that say what they are."""

import ast
import pathlib

import pytest

PLUGINS = pathlib.Path(__file__).resolve().parents[2] / "plugins"
NODE_LAYER = PLUGINS / "module_utils" / "_node"
RUNNER = PLUGINS / "module_utils" / "_runner.py"
TOOLS = frozenset(("pct", "pveam", "pvesm", "pvecm", "pvesh", "qm", "zfs", "zpool", "lxc-info", "lxc-attach"))
NODE_PREFIXES = ("/etc/pve", "/run/nexcage", "/var/lib/lxc", "/run/lock")
OPENERS = frozenset(("open", "read_text", "read_bytes", "write_text", "write_bytes"))
# Calls that ask the filesystem about a path without opening it: os.X, os.path.X, glob.X.
STATTERS = {
    "os": frozenset(("listdir", "scandir", "walk", "stat", "lstat", "statvfs", "access", "readlink", "rmdir")),
    "os.path": frozenset(("exists", "lexists", "isdir", "isfile", "islink", "ismount", "getsize", "realpath")),
    "glob": frozenset(("glob", "iglob")),
}
MAX_LINES = 80
# Data, not logic: the argument spec and the schema literal may be long.
LONG_ALLOWED = frozenset(("argument_spec",))
LONG_ALLOWED_FILES = frozenset(("schema.py",))


def sources():
    return sorted(p for p in PLUGINS.rglob("*.py") if "__pycache__" not in p.parts)


def parsed():
    return [(path, ast.parse(path.read_text(), str(path))) for path in sources()]


def where(path, node):
    return "%s:%d" % (path.relative_to(PLUGINS.parent), node.lineno)


def is_node_path(value):
    return isinstance(value, str) and value.startswith(NODE_PREFIXES)


def test_there_is_something_to_check():
    assert len(sources()) > 20 and RUNNER.is_file() and (NODE_LAYER / "paths.py").is_file()


def test_tool_argv_only_from_the_runner_builders():
    found = []
    for path, tree in parsed():
        if path == RUNNER:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.List) and node.elts:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value in TOOLS:
                    found.append(where(path, node))
    assert found == [], "build tool argv with _runner's builders (pct(), zfs(), ...): %s" % found


def _node_path_names(tree):
    """Module-level names bound to a node path literal."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and is_node_path(node.value.value):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _mentions_node_path(expr, names):
    for sub in ast.walk(expr):
        if isinstance(sub, ast.Constant) and is_node_path(sub.value):
            return True
        if isinstance(sub, ast.Name) and sub.id in names:
            return True
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "paths":
            return True
    return False


def _opened_expr(call):
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name not in OPENERS and not (name == "open" or (isinstance(func, ast.Attribute) and func.attr == "open")):
        return None
    if name in ("read_text", "read_bytes", "write_text", "write_bytes") and isinstance(func, ast.Attribute):
        return func.value if not call.args else ast.Tuple(elts=[func.value] + list(call.args))
    return call.args[0] if call.args else None


def test_node_paths_named_and_opened_only_in_the_node_layer():
    defined, opened = [], []
    for path, tree in parsed():
        if NODE_LAYER in path.parents:
            continue
        names = _node_path_names(tree)
        defined += [
            "%s %s" % (where(path, node), ast.unparse(node.targets[0]))
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and is_node_path(node.value.value)
        ]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                target = _opened_expr(node)
                if target is not None and _mentions_node_path(target, names):
                    opened.append(where(path, node))
    assert defined == [], "name node paths in _node/paths.py: %s" % defined
    assert opened == [], "open node files through _node (files, readers, ctconf): %s" % opened


def _node_path_locals(scope, names):
    """Names assigned (anywhere in scope) from an expression that mentions a node path, to a fixpoint."""
    found = set(names)
    assigns = [node for node in ast.walk(scope) if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value]
    while True:
        more = {
            target.id
            for node in assigns
            if _mentions_node_path(node.value, found)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        if more <= found:
            return found
        found |= more


def _stat_call(call):
    """'os.listdir' for a call of one of STATTERS, else None."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    owner = ast.unparse(func.value)
    return "%s.%s" % (owner, func.attr) if func.attr in STATTERS.get(owner, ()) else None


def node_path_stats(path, tree):
    """where() of every STATTERS call on a node path (a node path literal, paths.X, or a name bound to one)."""
    module_names = _node_path_locals(ast.Module(body=[n for n in tree.body if isinstance(n, ast.Assign)]), set())
    found = []
    scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes:
        names = _node_path_locals(scope, module_names) if scope is not tree else module_names
        body = scope.body if scope is tree else [scope]
        for node in (sub for part in body for sub in ast.walk(part)):
            if (
                isinstance(node, ast.Call)
                and _stat_call(node)
                and node.args
                and _mentions_node_path(node.args[0], names)
            ):
                found.append("%s %s" % (where(path, node), _stat_call(node)))
    return sorted(set(found))


def test_node_paths_statted_only_in_the_node_layer():
    """No os.listdir / os.path.exists / os.statvfs / glob ... on a node path outside _node: the node layer
    answers (readers, files, entries)."""
    found = []
    for path, tree in parsed():
        if NODE_LAYER not in path.parents:
            found += node_path_stats(path, tree)
    assert found == [], "ask the node layer (_node.readers, files, entries): %s" % found


def test_no_function_over_80_lines():
    long = []
    for path, tree in parsed():
        if path.name in LONG_ALLOWED_FILES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in LONG_ALLOWED:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long.append("%s %s (%d lines)" % (where(path, node), node.name, lines))
    assert long == [], "split these functions: %s" % long


def test_no_one_letter_import_aliases():
    short = []
    for path, tree in parsed():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                short += [
                    "%s %s" % (where(path, node), a.asname) for a in node.names if a.asname and len(a.asname) == 1
                ]
    assert short == [], "import under a name that says what it is: %s" % short


@pytest.mark.parametrize(
    "source,rule",
    [
        ('argv = ["pct", "start", "100"]\n', test_tool_argv_only_from_the_runner_builders),
        ('CONF = "/etc/pve/lxc"\n', test_node_paths_named_and_opened_only_in_the_node_layer),
        ('text = open("/etc/pve/.vmlist").read()\n', test_node_paths_named_and_opened_only_in_the_node_layer),
        ("text = pathlib.Path(paths.VMLIST).read_text()\n", test_node_paths_named_and_opened_only_in_the_node_layer),
        ("names = os.listdir(paths.LXC_CONF_DIR)\n", test_node_paths_statted_only_in_the_node_layer),
        (
            "def f():\n    cfg = paths.STORAGE_CFG\n    return os.path.exists(cfg)\n",
            test_node_paths_statted_only_in_the_node_layer,
        ),
        (
            "def f(vmid):\n    d = os.path.join(paths.RUN_NEXCAGE, vmid)\n    s = d + '/x'\n    return os.statvfs(s)\n",
            test_node_paths_statted_only_in_the_node_layer,
        ),
        ("found = glob.glob('/etc/pve/lxc/*.conf')\n", test_node_paths_statted_only_in_the_node_layer),
        ("def f():\n" + "    x = 1\n" * 81, test_no_function_over_80_lines),
        ("from os import path as p\n", test_no_one_letter_import_aliases),
    ],
)
def test_each_rule_catches_its_violation(tmp_path, monkeypatch, source, rule):
    plugins = tmp_path / "plugins"
    (plugins / "module_utils" / "_node").mkdir(parents=True)
    (plugins / "module_utils" / "bad.py").write_text(source)
    monkeypatch.setitem(globals(), "PLUGINS", plugins)
    monkeypatch.setitem(globals(), "NODE_LAYER", plugins / "module_utils" / "_node")
    monkeypatch.setitem(globals(), "RUNNER", plugins / "module_utils" / "_runner.py")
    with pytest.raises(AssertionError):
        rule()
