"""Real-world config lines that nexcage read differently from Proxmox VE (issue 11), and the
values Proxmox refuses or accepts. Every expectation here is Proxmox's own answer
(pve-oracle: pve-container 6.1.10 / pve-common 9.2.1)."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.desired import desired_from_params
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.plan import plan_update


def plan_for(config_text, **params):
    current = _pveconfig.effective_config(_pveconfig.parse_config(config_text))
    return plan_update(desired_from_params(params), current)


# --------------------------------------------------------------------------- bind mount with a trailing '/'

JELLYFIN = "arch: amd64\nhostname: jellyfin\nmp0: /mnt/lxc_jellyfin/jellyfin/,mp=/mnt/jellyfin\n"


def test_bind_mount_host_path_is_kept_as_written():
    cfg = _pveconfig.parse_config(JELLYFIN)
    # PVE: parse_volume keeps the host path as written
    assert cfg["mp0"] == {"volume": "/mnt/lxc_jellyfin/jellyfin/", "mp": "/mnt/jellyfin"}
    assert cfg["warnings"] == []


@pytest.mark.parametrize("host_path", ["/mnt/lxc_jellyfin/jellyfin", "/mnt/lxc_jellyfin/jellyfin/"])
@pytest.mark.parametrize("mountpoint", ["/mnt/jellyfin", "/mnt/jellyfin/"])
def test_bind_mount_trailing_slash_restated_is_no_change(host_path, mountpoint):
    plan = plan_for(JELLYFIN, mounts=[{"id": 0, "host_path": host_path, "mountpoint": mountpoint}])
    assert plan.changes == []
    assert plan.set_argv(100) is None


def test_bind_mount_trailing_slash_real_change_keeps_the_path_as_written():
    plan = plan_for(
        JELLYFIN,
        mounts=[{"id": 0, "host_path": "/mnt/lxc_jellyfin/jellyfin", "mountpoint": "/mnt/jellyfin", "read_only": True}],
    )
    assert [c.key for c in plan.changes] == ["mp0"]
    assert plan.set_argv(100) == ["pct", "set", "100", "--mp0", "/mnt/lxc_jellyfin/jellyfin/,mp=/mnt/jellyfin,ro=1"]


def test_bind_mount_other_directory_is_a_change():
    plan = plan_for(JELLYFIN, mounts=[{"id": 0, "host_path": "/mnt/lxc_jellyfin", "mountpoint": "/mnt/jellyfin"}])
    assert plan.set_argv(100) == ["pct", "set", "100", "--mp0", "/mnt/lxc_jellyfin,mp=/mnt/jellyfin"]


@pytest.mark.parametrize(
    "first,second,same",
    [
        ("/a/b/", "/a/b", True),
        ("/a//b", "/a/b", True),
        ("/", "//", True),
        ("/a/b", "/a/bc", False),
        ("local:1", "local:1/", False),
    ],
)
def test_same_host_path(first, second, same):
    assert _pveconfig.same_host_path(first, second) is same


# --------------------------------------------------------------------------- bare startup: N


@pytest.mark.parametrize(
    "text,parsed",
    [
        ("3", {"order": 3}),
        ("order=3", {"order": 3}),
        ("3,up=30", {"order": 3, "up": 30}),
        ("order=1,up=30,down=60", {"order": 1, "up": 30, "down": 60}),
    ],
)
def test_startup_forms_proxmox_accepts(text, parsed):
    cfg = _pveconfig.parse_config("startup: %s\n" % text)
    assert cfg["startup"] == parsed
    assert cfg["warnings"] == []


@pytest.mark.parametrize("text", ["order=x", "first", "up=1;down=2"])
def test_startup_forms_proxmox_refuses(text):
    with pytest.raises(_pveconfig.ConfigError, match="^unable to parse startup options$"):
        _pveconfig.parse_value("startup", text)
    cfg = _pveconfig.parse_config("startup: %s\n" % text)
    assert cfg["startup"] == text
    assert cfg["warnings"] == ["unable to parse value of 'startup' - unable to parse startup options"]


def test_startup_order_against_bare_startup_is_no_change():
    assert plan_for("startup: 3\n", startup={"order": 3}).changes == []


def test_startup_change_against_bare_startup():
    plan = plan_for("startup: 3\n", startup={"order": 3, "up": 30})
    assert plan.set_argv(100) == ["pct", "set", "100", "--startup", "order=3,up=30"]


def test_startup_against_a_value_proxmox_refuses_does_not_crash():
    plan = plan_for("startup: garbage\n", startup={"order": 3})
    assert plan.set_argv(100) == ["pct", "set", "100", "--startup", "order=3"]


# --------------------------------------------------------------------------- description


def test_description_trailing_spaces_kept_byte_for_byte():
    # markdown line breaks: two trailing spaces
    cfg = _pveconfig.parse_config("#**Media**  \n#runs jellyfin  \n#\n#end\narch: amd64\n")
    assert cfg["description"] == "**Media**  \nruns jellyfin  \n\nend\n"


def test_description_trailing_spaces_restated_is_no_change():
    text = "#**Media**  \n#runs jellyfin  \narch: amd64\n"
    assert plan_for(text, description="**Media**  \nruns jellyfin  ").changes == []
    assert plan_for(text, description="**Media**  \nruns jellyfin  \n").changes == []
    assert [c.key for c in plan_for(text, description="**Media**\nruns jellyfin").changes] == ["description"]


@pytest.mark.parametrize(
    "text,description",
    [
        ("description: x%0Ay\n", "x\ny"),
        ("description: a%3Ab 100%25 %C3%BC  \n", "a:b 100% \u00fc"),
        # PVE appends the key line to what the comment lines gave, and comment lines after it
        ("#c1\ndescription: x%0Ay\n#c2\n", "c1\nx\nyc2\n"),
        ("#50%25 %E2%9C%93\n", "50% \u2713\n"),
        ("#raw \u00fc stays\n", "raw \u00fc stays\n"),
    ],
)
def test_description_decoded_as_proxmox_decodes_it(text, description):
    cfg = _pveconfig.parse_config(text)
    assert cfg["description"] == description
    assert cfg["warnings"] == []


def test_description_printed_as_proxmox_encodes_it():
    cfg = _pveconfig.parse_config("description: a%0Ab: 100%25  \n")
    assert _pveconfig.format_config(cfg) == "#a\n#b%3A 100%25\n"


# --------------------------------------------------------------------------- tags

TAGGED = "hostname: gpu1\ntags: GPU;ai;Prod\n"


def test_tags_keep_case_and_order_as_written():
    cfg = _pveconfig.parse_config(TAGGED)
    assert cfg["tags"] == ["GPU", "ai", "Prod"]
    assert _pveconfig.format_config(cfg) == TAGGED


@pytest.mark.parametrize("tags", [["GPU", "ai", "Prod"], ["ai", "gpu", "prod"], ["prod", "AI", "gpu", "gpu"]])
def test_tags_restated_is_no_change(tags):
    # PVE's default tag style compares and stores tags case-insensitively
    assert plan_for(TAGGED, tags=tags).changes == []


def test_tags_change_is_written_as_pct_set_stores_tags():
    plan = plan_for(TAGGED, tags=["GPU", "ai", "Dev"])
    assert plan.set_argv(100) == ["pct", "set", "100", "--tags", "ai;dev;gpu"]


@pytest.mark.parametrize(
    "style,result",
    [
        ({}, ["ai", "gpu", "prod"]),
        ({"case_sensitive": True}, ["GPU", "Prod", "ai", "gpu"]),
        ({"ordering": "config"}, ["prod", "gpu", "ai"]),
        ({"case_sensitive": True, "ordering": "config"}, ["Prod", "GPU", "ai", "gpu"]),
    ],
)
def test_unique_tags_as_get_unique_tags(style, result):
    assert _pveconfig.unique_tags("Prod;GPU ai,gpu;Prod", **style) == result


@pytest.mark.parametrize(
    "datacenter_cfg,style",
    [
        ("", {"case_sensitive": False, "ordering": "alphabetical"}),
        (
            "keyboard: de\ntag-style: shape=circle,case-sensitive=1\n",
            {"case_sensitive": True, "ordering": "alphabetical"},
        ),
        ("tag-style: ordering=config,case-sensitive=yes\n", {"case_sensitive": True, "ordering": "config"}),
        ("tag-style: ordering=random\n", {"case_sensitive": False, "ordering": "alphabetical"}),
    ],
)
def test_tag_style_from_datacenter_cfg(datacenter_cfg, style):
    assert _pveconfig.tag_style(datacenter_cfg) == style
    assert _pveconfig.unique_tags("b;A", **_pveconfig.tag_style(datacenter_cfg))


# --------------------------------------------------------------------------- values Proxmox refuses / accepts


@pytest.mark.parametrize(
    "key,value,errors",
    [
        (
            "net0",
            "name=eth0,bridge=vmbr0,gw6=zz::1",
            {"gw6": "invalid format - value does not look like a valid IPv6 address"},
        ),
        ("net0", "name=eth0,gw=10.0.0.256", {"gw": "invalid format - value does not look like a valid IPv4 address"}),
        (
            "net0",
            "name=eth0,ip=10.0.0.1/7",
            {"ip": "invalid format - value does not look like a valid ipv4 network configuration"},
        ),
        (
            "net0",
            "name=eth0,hwaddr=01:00:00:00:00:00",
            {"hwaddr": "invalid format - value does not look like a valid unicast MAC address"},
        ),
        ("net0", "name=eth0,mtu=10", {"mtu": "value must have a minimum value of 64"}),
        ("net0", "name=eth0,firewall=maybe", {"firewall": "type check ('boolean') failed - got 'maybe'"}),
        ("net0", "name=eth0,type=vlan", {"type": "value 'vlan' does not have a value in the enumeration 'veth'"}),
        ("net0", "bridge=vmbr0", {"name": "property is missing and it is not optional"}),
        (
            "mp2",
            "local:8,mp=/d,foo=1",
            {"foo": "property is not defined in schema and the schema does not allow additional properties"},
        ),
        ("mp0", "local:8", {"mp": "property is missing and it is not optional"}),
        ("mp0", "/x,mp=/a/../b", {"mp": "invalid format - /a/../b contains illegal character sequences"}),
        ("mp0", "local:8,mp=/d,size=8X", {"size": "invalid format - value does not look like a valid disk size: 8X"}),
        (
            "rootfs",
            "local:8,backup=1",
            {"backup": "property is not defined in schema and the schema does not allow additional properties"},
        ),
        ("dev0", "/tmp/x", {"path": "invalid format - /tmp/x is not a valid device path"}),
        ("dev0", "/dev/x,mode=660", {"mode": "value does not match the regex pattern"}),
    ],
)
def test_property_strings_refused_with_proxmox_message(key, value, errors):
    with pytest.raises(_pveconfig.ConfigError) as info:
        _pveconfig.parse_property_string(key, value)
    assert str(info.value).split("\n", maxsplit=1)[0] == "format error"
    assert info.value.errors == errors


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("net0", "name=eth0,name=eth1", "duplicate key in comma-separated list property: name"),
        ("net0", "eth0", "value without key, but schema does not define a default key"),
        ("mp0", "/a,/b", "duplicate key in comma-separated list property: volume"),
        ("net0", "name=eth0,bridge=", "missing key in comma-separated list property"),
    ],
)
def test_property_string_syntax_refused_with_proxmox_message(key, value, message):
    with pytest.raises(_pveconfig.ConfigError, match="^%s$" % message):
        _pveconfig.parse_property_string(key, value)


@pytest.mark.parametrize(
    "key,value",
    [
        ("startup", "5"),
        ("net0", "name=eth0,bridge=vmbr0,firewall=yes,hwaddr=bc:24:11:aa:bb:cc"),
        ("net0", "name=eth0,ip6=fe80::1/64,gw6=fe80::1,rate=.5,mtu=+100"),
        ("mp0", "local:8,mp=/d,size=0T,mountoptions=noatime;nodev,idmap=u:0:100000:65536"),
        ("tags", "a b,c;D"),
        ("nameserver", "1.1.1.1 fe80::1%eth0"),
        ("ostype", "bogus"),  # reading a config checks no enum (check_type)
        ("cpulimit", "1.50"),
    ],
)
def test_values_proxmox_accepts_parse_without_warning(key, value):
    _pveconfig.parse_value(key, value)
    assert _pveconfig.parse_config("%s: %s\n" % (key, value))["warnings"] == []


@pytest.mark.parametrize(
    "line,warning",
    [
        ("memory: abc", "unable to parse value of 'memory' - type check ('integer') failed - got 'abc'"),
        ("memory: -1", "unable to parse value of 'memory' - type check ('integer') failed - got '-1'"),
        ("onboot: maybe", "unable to parse value of 'onboot' - type check ('boolean') failed - got 'maybe'"),
        ("foo: bar", "unable to parse value of 'foo' - unknown setting 'foo'"),
        ("hostname: bad_name", "unable to parse value of 'hostname' - value does not look like a valid DNS name"),
        ("tags: -bad", "unable to parse value of 'tags' - invalid characters in tag"),
        ("delete: swap", "property 'delete' is only allowed in [pve:pending]"),
        ("Memory: 5", "unable to parse config: Memory: 5"),
    ],
)
def test_config_warnings_are_proxmox_warnings(line, warning):
    cfg = _pveconfig.parse_config(line + "\n", vmid=100)
    assert cfg["warnings"] == ["vm 100 - " + warning]


# --------------------------------------------------------------------------- printing keeps what it did not change

UNOWNED = """arch: amd64
memory: 512
net0: hwaddr=BC:24:11:00:00:01,name=eth0,bridge=vmbr1,firewall=yes
rootfs: local:100/vm-100-disk-0.raw,size=0T
"""


def test_printing_keeps_value_text_of_unchanged_keys():
    cfg = _pveconfig.parse_config(UNOWNED)
    assert _pveconfig.format_config(cfg) == UNOWNED
    cfg["memory"] = 1024
    assert _pveconfig.format_config(cfg) == UNOWNED.replace("memory: 512", "memory: 1024")


def test_printing_a_changed_property_string_prints_it_as_proxmox_does():
    cfg = _pveconfig.parse_config(UNOWNED)
    cfg["net0"] = dict(cfg["net0"], firewall=False)
    assert "net0: name=eth0,bridge=vmbr1,firewall=0,hwaddr=BC:24:11:00:00:01\n" in _pveconfig.format_config(cfg)


# --------------------------------------------------------------------------- writing only the lines nexcage changes

REAL = """#**Media**\x20\x20
arch: amd64
onboot: yes
memory: 512
net0: hwaddr=BC:24:11:00:00:01,name=eth0,bridge=vmbr1,firewall=yes
rootfs: local:100/vm-100-disk-0.raw,size=0T
lxc.apparmor.profile = unconfined

[pve:pending]
memory: 1024

[snap1]
memory: 256
snaptime: 1700000000
"""


def test_edit_changes_only_the_given_lines():
    text = _pveconfig.edit_config_text(REAL, {"memory": "memory: 2048"})
    assert text == REAL.replace("memory: 512", "memory: 2048")


def test_edit_adds_after_the_last_key_and_removes():
    text = _pveconfig.edit_config_text(REAL, {"swap": "swap: 0", "onboot": None})
    assert text == REAL.replace("onboot: yes\n", "").replace(
        "rootfs: local:100/vm-100-disk-0.raw,size=0T\n", "rootfs: local:100/vm-100-disk-0.raw,size=0T\nswap: 0\n"
    )


def test_edit_a_section():
    text = _pveconfig.edit_config_text(REAL, {"memory": "memory: 4096", "swap": "swap: 0"}, section="pve:pending")
    assert text == REAL.replace("memory: 1024\n", "memory: 4096\nswap: 0\n")
    with pytest.raises(_pveconfig.ConfigError):
        _pveconfig.edit_config_text(REAL, {"swap": "swap: 0"}, section="nosuch")


@pytest.mark.parametrize("line", ["memory: 1\nswap: 0", "swap: 1", "memory: 1\r"])
def test_edit_refuses_what_is_not_one_line_of_the_key(line):
    with pytest.raises(_pveconfig.ConfigError):
        _pveconfig.edit_config_text(REAL, {"memory": line})


# --------------------------------------------------------------------------- addresses written in another spelling

LONG_V6 = "nameserver: 2001:DB8:0:0::53\nnet0: name=eth0,bridge=vmbr0,ip6=2001:DB8:0:1:0:0:0:10/64,gw6=FE80::1\n"


def test_addresses_compare_by_value_and_keep_their_text():
    cfg = _pveconfig.parse_config(LONG_V6)
    assert cfg["net0"]["ip6"] == "2001:db8:0:1::10/64" and cfg["net0"]["gw6"] == "fe80::1"
    assert cfg["nameserver"] == ["2001:db8::53"]
    assert _pveconfig.format_config(cfg) == LONG_V6
    plan = plan_for(
        LONG_V6,
        nameserver=["2001:db8::53"],
        netif=[{"name": "eth0", "bridge": "vmbr0", "ip6": "2001:DB8:0:1::10/64", "gw6": "fe80::1"}],
    )
    assert plan.changes == []
