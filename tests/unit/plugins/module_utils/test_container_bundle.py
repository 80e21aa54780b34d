"""nexcage_container's image: <bundle directory>: the bundle's typed options fill the task's gaps
(the task wins, with a warning), its bind mounts follow the task's own with the next free ids."""

import json

import pytest
from test_oci_deploy import make_bundle, node  # noqa: F401 pylint: disable=unused-import

from ansible_collections.cageforge.nexcage.plugins.module_utils._container.bundle import BundleImage
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy

pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")


@pytest.fixture
def image(node):  # noqa: F811
    (node / "srv-a").mkdir()
    bundle, config = make_bundle(node, args=["/bin/sh"])
    config["hostname"] = "web"
    config["linux"]["resources"] = {"memory": {"limit": 256 * 1048576}, "cpu": {"quota": 50000, "period": 100000}}
    config["mounts"].append(
        {"destination": "/a", "type": "bind", "source": str(node / "srv-a"), "options": ["rbind", "ro"]}
    )
    (bundle / "config.json").write_text(json.dumps(config))
    return BundleImage(deploy.prepare(str(bundle)))


def test_merged_params(image):
    params = {"vmid": 1, "image": "/b", "memory": 512, "hostname": None, "mounts": [{"id": 0, "mountpoint": "/v"}]}
    merged, warnings = image.merged_params(params)
    assert merged["image"] == image.template and image.template.startswith("local:vztmpl/nexcage-bundle-")
    assert merged["hostname"] == "web" and merged["memory"] == 512 and merged["cpulimit"] == 0.5
    assert merged["unprivileged"] is False and merged["ostype"] == "unmanaged"
    host_path = str(image.deployment.bundle).replace("/bundle", "/srv-a")
    assert merged["mounts"][1] == {
        "id": 1,
        "host_path": host_path,
        "mountpoint": "/a",
        "read_only": True,
    }
    assert "memory: the task's 512 is used instead of the bundle's 256" in warnings
    assert image.create_options() == [("cmode", "console")]
    assert params["image"] == "/b"  # the task's own dict is not changed


def test_no_mounts_stay_none(node):  # noqa: F811
    bundle, _config = make_bundle(node, args=["/bin/sh"])
    merged, _warnings = BundleImage(deploy.prepare(str(bundle))).merged_params({"mounts": None, "image": "/b"})
    assert merged["mounts"] is None
