"""What training costs: a meter integrating the hourly rate over training time, and the
`python -m metta.eval.cost` command.

    python -m metta.eval.cost --instance-type g5.4xlarge --hours 2.5 --nodes 2
    12.12
    g5.4xlarge on-demand in us-east-1: $2.424/h (source: fallback) x 2 nodes x 2.5 h
"""

from __future__ import annotations

import argparse
import sys

from metta.eval.aws_pricing import AWSPricingClient, Price, UnknownInstanceType


class CostMeter:
    """Dollars accrued: the rate (price x nodes) times each stretch of training time, summed.

    Integrating, rather than multiplying the total time by today's rate, prices a run that
    was resumed on other hardware with each machine's own rate."""

    def __init__(self, price: Price, num_nodes: int = 1) -> None:
        if num_nodes < 1:
            raise ValueError(f"num_nodes must be >= 1, got {num_nodes}")
        self.price, self.num_nodes = price, num_nodes
        self.accrued = 0.0
        self.last_elapsed = 0.0

    @property
    def hourly_total(self) -> float:
        return self.price.hourly * self.num_nodes

    def advance(self, elapsed_time: float) -> None:
        """Training time (seconds) has reached `elapsed_time`."""
        if elapsed_time > self.last_elapsed:
            self.accrued += self.hourly_total * (elapsed_time - self.last_elapsed) / 3600
            self.last_elapsed = elapsed_time

    def metrics(self) -> dict[str, float]:
        return {"monitor/cost/hourly_total": self.hourly_total, "monitor/cost/accrued_total": self.accrued}

    def state_dict(self) -> dict:
        return {"accrued": self.accrued, "last_elapsed": self.last_elapsed}

    def load_state_dict(self, state: dict) -> None:
        self.accrued, self.last_elapsed = state["accrued"], state["last_elapsed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metta.eval.cost", description="dollars for hours on EC2")
    parser.add_argument("--instance-type", required=True)
    parser.add_argument("--hours", type=float, required=True)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--spot", action="store_true")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    if args.hours < 0:
        parser.error(f"--hours must be >= 0, got {args.hours}")
    try:
        price = AWSPricingClient(region=args.region).price(args.instance_type, args.spot)
        meter = CostMeter(price, args.nodes)
    except (UnknownInstanceType, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    meter.advance(args.hours * 3600)
    print(f"{meter.accrued:.2f}")
    print(f"{price.describe()} x {args.nodes} node{'s' if args.nodes != 1 else ''} x {args.hours:g} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
