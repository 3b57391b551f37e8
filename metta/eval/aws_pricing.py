"""EC2 hourly prices: the AWS Pricing API (on-demand), EC2 spot history (spot), a disk cache,
and spec 001's table when AWS cannot be asked.  Every price says where it came from.

Nothing here may reach the instance metadata address off EC2: boto3's credential chain
probes it when no credentials are set, so the client sets AWS_EC2_METADATA_DISABLED=true
for the process unless `running_on_ec2()`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from metta.common.files import write_text_atomically
from metta.eval.instance_info import running_on_ec2

log = logging.getLogger(__name__)

# Spec 001's table: (on-demand, spot) USD per hour, us-east-1.
FALLBACK_PRICES: dict[str, tuple[float, float]] = {
    "g4dn.xlarge": (0.526, 0.158),
    "g5.xlarge": (1.006, 0.302),
    "g5.2xlarge": (1.212, 0.364),
    "g5.4xlarge": (2.424, 0.727),
    "g5.8xlarge": (4.848, 1.454),
    "g5.12xlarge": (7.272, 2.182),
    "g5.24xlarge": (14.544, 4.363),
    "p3.2xlarge": (3.06, 0.918),
    "p3.8xlarge": (12.24, 3.672),
    "p3.16xlarge": (24.48, 7.344),
}

# The Pricing API filters by the region's long name, not its code.
REGION_LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "sa-east-1": "South America (Sao Paulo)",
}

Source = Literal["api", "cache", "fallback"]


@dataclass(frozen=True)
class Price:
    instance_type: str
    spot: bool
    region: str
    hourly: float
    source: Source

    def describe(self) -> str:
        kind = "spot" if self.spot else "on-demand"
        return f"{self.instance_type} {kind} in {self.region}: ${self.hourly:.4g}/h (source: {self.source})"


class UnknownInstanceType(ValueError):
    pass


class AWSPricingClient:
    def __init__(
        self,
        region: str = "us-east-1",
        cache_path: Optional[str] = "~/.cache/metta/aws_prices.json",
        cache_ttl_s: float = 24 * 3600,
        timeout_s: float = 3.0,
        pricing_client=None,
        ec2_client=None,
    ) -> None:
        """`pricing_client` / `ec2_client`: boto3 clients to use (tests pass stubbed ones)."""
        _check_region(region)
        if not running_on_ec2():
            os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        self.region = region
        self.cache_path = Path(cache_path).expanduser() if cache_path else None
        self.cache_ttl_s = cache_ttl_s
        self.timeout_s = timeout_s
        self._pricing, self._ec2 = pricing_client, ec2_client

    def price(self, instance_type: str, spot: bool = False, region: Optional[str] = None) -> Price:
        """The hourly price; never raises for an AWS failure (falls back, and says so)."""
        region = _check_region(region or self.region)
        key = f"{region}/{instance_type}/{'spot' if spot else 'on-demand'}"
        cached = self._cache_get(key)
        if cached is not None:
            return Price(instance_type, spot, region, cached, "cache")
        try:
            hourly = (
                self._spot_from_api(instance_type, region) if spot else self._on_demand_from_api(instance_type, region)
            )
        except UnknownInstanceType:
            raise
        except Exception as e:  # no credentials, no network, throttling, a malformed answer: all fall back
            log.info("AWS pricing unavailable for %s (%s: %s); using the fallback table", key, type(e).__name__, e)
            return self._fallback(instance_type, spot, region)
        self._cache_put(key, hourly)
        return Price(instance_type, spot, region, hourly, "api")

    def _fallback(self, instance_type: str, spot: bool, region: str) -> Price:
        if instance_type not in FALLBACK_PRICES:
            raise UnknownInstanceType(
                f"instance type {instance_type!r} has no price: AWS could not be asked and it is not in the "
                f"fallback table ({', '.join(FALLBACK_PRICES)})"
            )
        on_demand, spot_price = FALLBACK_PRICES[instance_type]
        return Price(instance_type, spot, region, spot_price if spot else on_demand, "fallback")

    def _on_demand_from_api(self, instance_type: str, region: str) -> float:
        filters = {
            "instanceType": instance_type,
            "location": REGION_LOCATIONS[region],
            "operatingSystem": "Linux",
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
        }
        response = self._client("pricing").get_products(
            ServiceCode="AmazonEC2",
            Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
            MaxResults=10,
        )
        prices = [p for item in response["PriceList"] for p in _on_demand_usd(json.loads(item)) if p > 0]
        if not prices:
            raise UnknownInstanceType(
                f"the AWS Pricing API has no Linux on-demand price for {instance_type!r} in {region}"
            )
        return min(prices)

    def _spot_from_api(self, instance_type: str, region: str) -> float:
        """The cheapest zone's latest spot price (where a spot launcher would go)."""
        response = self._client("ec2", region).describe_spot_price_history(
            InstanceTypes=[instance_type], ProductDescriptions=["Linux/UNIX"], StartTime=time.time() - 6 * 3600
        )
        latest: dict[str, tuple] = {}
        for entry in response["SpotPriceHistory"]:
            zone = entry["AvailabilityZone"]
            if zone not in latest or entry["Timestamp"] > latest[zone][0]:
                latest[zone] = (entry["Timestamp"], float(entry["SpotPrice"]))
        if not latest:
            raise LookupError(f"no spot price history for {instance_type} in {region}")
        return min(price for _, price in latest.values())

    def _client(self, service: str, region: str = "us-east-1"):
        existing = self._pricing if service == "pricing" else self._ec2
        if existing is not None:
            return existing
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=self.timeout_s, read_timeout=self.timeout_s, retries={"max_attempts": 1})
        # The Pricing API is served from us-east-1 whatever region is priced.
        client = boto3.client(service, region_name=region, config=config)
        if service == "pricing":
            self._pricing = client
        return client

    def _cache_get(self, key: str) -> Optional[float]:
        if self.cache_path is None or not self.cache_path.exists():
            return None
        try:
            entry = json.loads(self.cache_path.read_text()).get(key)
        except (OSError, ValueError):
            return None
        if entry and time.time() - entry["time"] < self.cache_ttl_s:
            return float(entry["hourly"])
        return None

    def _cache_put(self, key: str, hourly: float) -> None:
        if self.cache_path is None:
            return
        try:
            data = json.loads(self.cache_path.read_text()) if self.cache_path.exists() else {}
        except (OSError, ValueError):
            data = {}
        data[key] = {"hourly": hourly, "time": time.time()}
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(self.cache_path, json.dumps(data))


def _check_region(region: str) -> str:
    if region not in REGION_LOCATIONS:
        raise ValueError(f"aws region {region!r} is not one this client can price; known: {sorted(REGION_LOCATIONS)}")
    return region


def _on_demand_usd(product: dict) -> list[float]:
    """USD per hour of each on-demand price dimension of one PriceList product."""
    out = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            if dimension.get("unit", "Hrs") == "Hrs" and "USD" in dimension.get("pricePerUnit", {}):
                out.append(float(dimension["pricePerUnit"]["USD"]))
    return out
