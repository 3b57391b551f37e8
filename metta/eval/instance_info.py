"""Which machine the run pays for: instance type, spot, region, nodes, GPUs per node.

`SkyPilotInstanceInfo.detect` asks, in order: SkyPilot's environment, a SkyPilot task YAML,
EC2 instance metadata (IMDSv2), then the config's fallback.  Instance metadata is asked only
with evidence of EC2 (SkyPilot says AWS, or the DMI data names Amazon EC2) or when the
config asks for it: everywhere else nothing contacts 169.254.169.254.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Optional

log = logging.getLogger(__name__)

METADATA_ENDPOINT = "http://169.254.169.254"
_DMI = ("sys_vendor", "product_name", "board_vendor", "bios_vendor")


def running_on_ec2(environ: Mapping[str, str] = os.environ, dmi_dir: str = "/sys/class/dmi/id") -> bool:
    """Evidence of EC2 without asking the network: SkyPilot's cluster info, or the DMI data."""
    if _skypilot_cloud(environ) == "aws":
        return True
    for name in _DMI:
        try:
            if "amazon ec2" in Path(dmi_dir, name).read_text().lower():
                return True
        except OSError:
            continue
    return False


@dataclass(frozen=True)
class InstanceInfo:
    instance_type: str
    use_spot: bool
    region: str
    num_nodes: int = 1
    gpus_per_node: int = 0
    source: str = "config"


class SkyPilotInstanceInfo:
    @staticmethod
    def detect(
        instance_type: str,
        use_spot: bool = False,
        region: str = "us-east-1",
        task_yaml: Optional[str] = None,
        metadata: Literal["auto", "always", "never"] = "auto",
        metadata_endpoint: str = METADATA_ENDPOINT,
        environ: Mapping[str, str] = os.environ,
        dmi_dir: str = "/sys/class/dmi/id",
    ) -> InstanceInfo:
        """`instance_type`, `use_spot`, `region`: the config's fallback for what nothing else says."""
        found: dict = {}
        sources = []
        for name, reader in (
            ("skypilot-env", lambda: _from_environ(environ)),
            ("task-yaml", lambda: _from_task_yaml(task_yaml) if task_yaml else {}),
            ("imds", lambda: _from_metadata(metadata_endpoint) if _ask_metadata(metadata, environ, dmi_dir) else {}),
        ):
            values = {k: v for k, v in reader().items() if k not in found and v is not None}
            if values:
                found.update(values)
                sources.append(name)
        info = InstanceInfo(
            instance_type=found.get("instance_type", instance_type),
            use_spot=found.get("use_spot", use_spot),
            region=found.get("region", region),
            num_nodes=found.get("num_nodes", 1),
            gpus_per_node=found.get("gpus_per_node", 0),
            source="+".join(sources + ["config"]) if sources else "config",
        )
        log.info("instance: %s", info)
        return info


def _skypilot_cloud(environ: Mapping[str, str]) -> Optional[str]:
    raw = environ.get("SKYPILOT_CLUSTER_INFO")
    if not raw:
        return None
    try:
        return str(json.loads(raw).get("cloud", "")).lower() or None
    except ValueError:
        return None


def _from_environ(environ: Mapping[str, str]) -> dict:
    out: dict = {}
    if "SKYPILOT_NUM_NODES" in environ:
        out["num_nodes"] = int(environ["SKYPILOT_NUM_NODES"])
    if "SKYPILOT_NUM_GPUS_PER_NODE" in environ:
        out["gpus_per_node"] = int(environ["SKYPILOT_NUM_GPUS_PER_NODE"])
    if environ.get("SKYPILOT_INSTANCE_TYPE"):
        out["instance_type"] = environ["SKYPILOT_INSTANCE_TYPE"]
    if "SKYPILOT_USE_SPOT" in environ:
        out["use_spot"] = environ["SKYPILOT_USE_SPOT"].strip().lower() in ("1", "true", "yes")
    raw = environ.get("SKYPILOT_CLUSTER_INFO")
    if raw:
        try:
            cluster = json.loads(raw)
        except ValueError:
            log.warning("SKYPILOT_CLUSTER_INFO is not JSON; ignored")
        else:
            out["region"] = cluster.get("region")
    return out


def _from_task_yaml(path: str) -> dict:
    import yaml

    task = yaml.safe_load(Path(path).read_text()) or {}
    resources = task.get("resources") or {}
    candidates = resources.get("any_of") or resources.get("ordered") or [resources]
    first = {**resources, **(candidates[0] if candidates else {})}
    out: dict = {"num_nodes": task.get("num_nodes")}
    out["instance_type"] = first.get("instance_type")
    out["use_spot"] = first.get("use_spot")
    out["region"] = first.get("region")
    accelerators = first.get("accelerators")
    if isinstance(accelerators, str) and ":" in accelerators:
        out["gpus_per_node"] = int(accelerators.split(":")[1])
    elif isinstance(accelerators, dict) and accelerators:
        out["gpus_per_node"] = int(next(iter(accelerators.values())))
    return out


def _ask_metadata(metadata: str, environ: Mapping[str, str], dmi_dir: str) -> bool:
    if metadata == "always":
        return True
    return metadata == "auto" and running_on_ec2(environ, dmi_dir)


def _from_metadata(endpoint: str, timeout: float = 0.5) -> dict:
    """IMDSv2: a session token first, then the instance's type, region and life cycle."""
    try:
        token_request = urllib.request.Request(
            f"{endpoint}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
        )
        with urllib.request.urlopen(token_request, timeout=timeout) as response:
            token = response.read().decode()

        def get(path: str) -> str:
            request = urllib.request.Request(
                f"{endpoint}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token}
            )
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read().decode().strip()

        return {
            "instance_type": get("instance-type"),
            "region": get("placement/region"),
            "use_spot": get("instance-life-cycle") == "spot",
        }
    except OSError as e:
        log.info("instance metadata unavailable at %s (%s)", endpoint, e)
        return {}
