"""The issue's CPU figure: a 4-LR x 1-epoch ResNet-20 sweep on 5,000 CIFAR-format images, three ways.

    python benchmarks/resnet_cpu.py                 # plain PyTorch loop vs sequential engine vs pack, fp32
    python benchmarks/resnet_cpu.py --rows 1000     # smaller, on a busy machine

Random 3x32x32 tensors stand in for CIFAR-10 (the time does not depend on the pixels); validation is
1,000 more. The ways and the printed ratios are those of benchmarks/gpu.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import gpu  # noqa: E402


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000)
    p.add_argument("--lrs", type=int, default=4)
    p.add_argument("--precisions", default="32")
    p.add_argument("--ways", default="plain,seq,pack")
    args = p.parse_args(argv)
    return gpu.main(
        [
            "--device",
            "cpu",
            "--cases",
            "resnet20",
            "--rows",
            str(args.rows),
            "--lrs",
            str(args.lrs),
            "--precisions",
            args.precisions,
            "--ways",
            args.ways,
        ]
    )


if __name__ == "__main__":
    main()
