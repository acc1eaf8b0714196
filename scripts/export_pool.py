"""Export recorded pools (calibration shards, search-and-learn files, ...) as generic JSONL.

python -m scripts.export_pool artifacts/smollm2-arithmetic --out pool.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from strategies.pools.export import write_generic_pool
from strategies.pools.loading import load_pool


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pools", nargs="+", help="pool files or calibration folders")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    pool = load_pool(args.pools)
    write_generic_pool(pool, args.out)
    print(f"{len(pool)} problems -> {args.out}")


if __name__ == "__main__":
    main()
