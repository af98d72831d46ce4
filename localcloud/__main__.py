"""python -m localcloud [--host H] [--port P] [--data-dir DIR] [--delay-scale S]
                      [--compute-slots N]

Also: python -m localcloud env --region R  prints the shell variables a learner's own
Jupyter needs to reach a running localcloud.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from localcloud.config import DEFAULT_COMPUTE_SLOTS


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localcloud")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "env"])
    parser.add_argument("--host", default=os.environ.get("LOCALCLOUD_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCALCLOUD_PORT", "4566")))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LOCALCLOUD_DATA_DIR", ".localcloud"))
    )
    parser.add_argument(
        "--delay-scale",
        type=float,
        default=float(os.environ.get("LOCALCLOUD_DELAY_SCALE", "1.0")),
        help="multiplies the simulated lifecycle delays (0 for none, as in tests)",
    )
    parser.add_argument(
        "--compute-slots",
        type=int,
        default=int(os.environ.get("LOCALCLOUD_COMPUTE_SLOTS", DEFAULT_COMPUTE_SLOTS)),
        help="training and transform jobs that compute at once; the rest wait in Starting",
    )
    parser.add_argument("--region", default="us-east-1", help="for the env command")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    # XGBoost's OpenMP threads spin while they wait; next to the HTTP threads on a small
    # machine that spinning made training up to ten times slower. Must precede its import.
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    from localcloud.config import Settings

    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir.resolve(),
        delay_scale=args.delay_scale,
        compute_slots=args.compute_slots,
    )
    if args.command == "env":
        from localcloud.notebook_env import shell_exports

        print(shell_exports(settings.url, args.region, settings.data_dir / "env"), end="")
        return 0

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from localcloud.app import LocalCloud

    cloud = LocalCloud(settings)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    cloud.start()
    print(f"localcloud listening on {cloud.url} (data in {settings.data_dir})", flush=True)
    while not stop.wait(1):
        pass
    print("localcloud stopping", flush=True)
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
