"""Instance detection: SkyPilot's environment, its task YAML, IMDSv2 on a loopback server."""

import http.server
import threading

import pytest

from metta.eval.instance_info import SkyPilotInstanceInfo, running_on_ec2


class FakeIMDS(http.server.BaseHTTPRequestHandler):
    """IMDSv2: a token from PUT /latest/api/token, required on every metadata GET."""

    requests: list = []
    values = {"instance-type": "g5.12xlarge", "placement/region": "us-west-2", "instance-life-cycle": "spot"}

    def do_PUT(self):
        self.requests.append(("PUT", self.path))
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self._answer(200 if ok else 400, "TOKEN")

    def do_GET(self):
        self.requests.append(("GET", self.path))
        key = self.path.removeprefix("/latest/meta-data/")
        if self.headers.get("X-aws-ec2-metadata-token") != "TOKEN":
            return self._answer(401, "")
        self._answer(200, self.values[key]) if key in self.values else self._answer(404, "")

    def _answer(self, code, body):
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    FakeIMDS.requests = []
    server = http.server.HTTPServer(("127.0.0.1", 0), FakeIMDS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def not_ec2(tmp_path):
    (tmp_path / "sys_vendor").write_text("QEMU\n")
    return str(tmp_path)


def test_config_fallback_and_no_metadata_without_evidence(imds, tmp_path):
    info = SkyPilotInstanceInfo.detect(
        "g5.4xlarge", False, metadata_endpoint=imds, environ={}, dmi_dir=not_ec2(tmp_path)
    )
    assert (info.instance_type, info.use_spot, info.num_nodes, info.source) == ("g5.4xlarge", False, 1, "config")
    assert FakeIMDS.requests == []


def test_imdsv2_with_evidence_of_ec2(imds, tmp_path):
    (tmp_path / "sys_vendor").write_text("Amazon EC2\n")
    info = SkyPilotInstanceInfo.detect("g5.4xlarge", metadata_endpoint=imds, environ={}, dmi_dir=str(tmp_path))
    assert (info.instance_type, info.use_spot, info.region, info.source) == (
        "g5.12xlarge",
        True,
        "us-west-2",
        "imds+config",
    )
    assert FakeIMDS.requests[0] == ("PUT", "/latest/api/token")  # token first
    assert running_on_ec2({}, str(tmp_path))


def test_skypilot_environment_comes_first(imds, tmp_path):
    environ = {
        "SKYPILOT_NUM_NODES": "2",
        "SKYPILOT_NUM_GPUS_PER_NODE": "4",
        "SKYPILOT_INSTANCE_TYPE": "p3.8xlarge",
        "SKYPILOT_USE_SPOT": "true",
        "SKYPILOT_CLUSTER_INFO": '{"cluster_name": "c", "cloud": "AWS", "region": "eu-west-1"}',
    }
    info = SkyPilotInstanceInfo.detect("g5.4xlarge", metadata_endpoint=imds, environ=environ, dmi_dir=not_ec2(tmp_path))
    assert (info.instance_type, info.use_spot, info.region, info.num_nodes, info.gpus_per_node) == (
        "p3.8xlarge", True, "eu-west-1", 2, 4
    )  # fmt: skip
    assert info.source.startswith("skypilot-env")  # SkyPilot says AWS: metadata may fill what is missing


def test_task_yaml(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(
        "num_nodes: 2\nresources:\n  use_spot: true\n  accelerators: A10G:4\n  any_of:\n    - instance_type: g5.12xlarge\n"
    )
    info = SkyPilotInstanceInfo.detect("g5.4xlarge", task_yaml=str(task), environ={}, dmi_dir=not_ec2(tmp_path),
                                       metadata="never")  # fmt: skip
    assert (info.instance_type, info.use_spot, info.num_nodes, info.gpus_per_node, info.source) == (
        "g5.12xlarge", True, 2, 4, "task-yaml+config"
    )  # fmt: skip


def test_unreachable_metadata_is_skipped(tmp_path):
    info = SkyPilotInstanceInfo.detect("g5.4xlarge", metadata="always", metadata_endpoint="http://127.0.0.1:9", environ={},
                                       dmi_dir=not_ec2(tmp_path))  # fmt: skip
    assert info.instance_type == "g5.4xlarge" and info.source == "config"
