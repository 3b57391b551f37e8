"""Pricing: the real boto3 clients, stubbed at the botocore layer (Pricing API) or by moto (EC2
spot history); the fallback on every kind of failure; never a packet to 169.254.169.254."""

import datetime
import json
import socket
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from metta.eval.aws_pricing import AWSPricingClient, UnknownInstanceType

CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def product(usd: str) -> str:
    return json.dumps({
        "product": {"attributes": {"instanceType": "g5.4xlarge"}},
        "terms": {"OnDemand": {"T1": {"priceDimensions": {"D1": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}},
    })  # fmt: skip


def pricing_client():
    return boto3.client("pricing", region_name="us-east-1", **CREDS)


def test_on_demand_from_the_pricing_api_with_the_regions_location_filter(tmp_path):
    client = pricing_client()
    with Stubber(client) as stub:
        stub.add_response(
            "get_products",
            {"PriceList": [product("2.4240000000")], "FormatVersion": "aws_v1"},
            {
                "ServiceCode": "AmazonEC2",
                "MaxResults": 10,
                "Filters": [
                    {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "g5.4xlarge"},
                    {"Type": "TERM_MATCH", "Field": "location", "Value": "US West (Oregon)"},
                    {"Type": "TERM_MATCH", "Field": "operatingSystem", "Value": "Linux"},
                    {"Type": "TERM_MATCH", "Field": "tenancy", "Value": "Shared"},
                    {"Type": "TERM_MATCH", "Field": "preInstalledSw", "Value": "NA"},
                    {"Type": "TERM_MATCH", "Field": "capacitystatus", "Value": "Used"},
                ],
            },
        )
        prices = AWSPricingClient("us-west-2", cache_path=str(tmp_path / "c.json"), pricing_client=client)
        price = prices.price("g5.4xlarge")
    assert (price.hourly, price.source, price.region) == (2.424, "api", "us-west-2")
    again = prices.price("g5.4xlarge")  # no stubbed response left: must come from the cache
    assert (again.hourly, again.source) == (2.424, "cache")


def test_api_errors_fall_back_to_the_spec_table(tmp_path):
    client = pricing_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_products", service_error_code="ThrottlingException", http_status_code=400)
        price = AWSPricingClient(cache_path=None, pricing_client=client).price("g5.4xlarge")
    assert (price.hourly, price.source) == (2.424, "fallback")


def test_an_unanswering_endpoint_times_out_quickly_into_the_fallback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()  # accepts connections, never answers
    config = Config(read_timeout=0.5, connect_timeout=0.5, retries={"max_attempts": 1})
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    client = boto3.client("pricing", region_name="us-east-1", endpoint_url=endpoint, config=config, **CREDS)
    start = time.monotonic()
    price = AWSPricingClient(cache_path=None, pricing_client=client).price("p3.2xlarge")
    assert (price.hourly, price.source) == (3.06, "fallback") and time.monotonic() - start < 5
    server.close()


def test_spot_is_the_latest_price_per_zone_and_the_cheapest_zone():
    ec2 = boto3.client("ec2", region_name="us-east-1", **CREDS)
    t0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    history = [
        {"AvailabilityZone": "us-east-1a", "SpotPrice": "0.90", "Timestamp": t0},
        {"AvailabilityZone": "us-east-1a", "SpotPrice": "0.80", "Timestamp": t0 + datetime.timedelta(hours=1)},
        {"AvailabilityZone": "us-east-1b", "SpotPrice": "0.70", "Timestamp": t0},
        {"AvailabilityZone": "us-east-1b", "SpotPrice": "0.85", "Timestamp": t0 + datetime.timedelta(hours=2)},
    ]
    with Stubber(ec2) as stub:
        stub.add_response("describe_spot_price_history", {"SpotPriceHistory": history})
        price = AWSPricingClient(cache_path=None, ec2_client=ec2).price("g5.4xlarge", spot=True)
    assert (price.hourly, price.source) == (0.80, "api")  # latest: a 0.80, b 0.85


def test_spot_history_through_moto():
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1", **CREDS)
        price = AWSPricingClient(cache_path=None, ec2_client=ec2).price("g5.4xlarge", spot=True)
    assert price.source == "api" and price.hourly > 0


def test_unknown_instance_types_and_regions_are_refused():
    client = pricing_client()
    with Stubber(client) as stub:
        stub.add_client_error("get_products", service_error_code="AccessDeniedException")
        with pytest.raises(UnknownInstanceType, match="'g9.mega'.*fallback table"):
            AWSPricingClient(cache_path=None, pricing_client=client).price("g9.mega")
    with pytest.raises(ValueError, match="aws region 'mars-1'"):
        AWSPricingClient("mars-1")


def test_no_credentials_no_metadata_probe(tmp_path, monkeypatch):
    """boto3's credential chain probes 169.254.169.254 without credentials; we must not let it."""
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_EC2_METADATA_DISABLED",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    contacted = []
    real_connect = socket.socket.connect

    def connect(self, address):
        contacted.append(address)
        if str(address[0]).startswith("169.254."):
            raise OSError("blocked by the test")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    price = AWSPricingClient(cache_path=None).price("g5.4xlarge")
    assert price.source == "fallback"
    assert not [a for a in contacted if str(a[0]).startswith("169.254.")], contacted


def test_cost_command_prints_the_spec_example(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "metta.eval.cost", "--instance-type", "g5.4xlarge", "--hours", "2.5", "--nodes", "2"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()[:2]
    assert first == "12.12" and "source: fallback" in second and "x 2 nodes x 2.5 h" in second
    bad = subprocess.run([sys.executable, "-m", "metta.eval.cost", "--instance-type", "g9.mega", "--hours", "1"],
                         capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "g9.mega" in bad.stderr and "Traceback" not in bad.stderr
