"""A `ttc serve` process whose upstream hangs forever (for the shutdown test): the real
ServeServer in the main thread, so SIGTERM and SIGINT reach it as they would in
production. argv: CALIBRATION PORT GRACE_S."""

from __future__ import annotations

import sys
import threading
from typing import Any

from calibration.store.artifact import load_artifact
from router.problem_source import load_problem_set
from router.serve.server import ServeServer, ServeSettings, bind_socket, build_app, server_config
from router.setup import Overrides, build_engines, resolve_settings
from router.solver import Router


class HungGenerator:
    """An upstream that accepts the call and never answers."""

    def __init__(self, inner: Any) -> None:
        self.name, self.num_parameters = inner.name, inner.num_parameters

    def generate(self, prompts: Any, params: Any) -> Any:
        print("upstream entered", file=sys.stderr, flush=True)
        threading.Event().wait()


def main() -> None:
    calibration, port, grace = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    world = load_problem_set("simulator:64:1")
    artifact = load_artifact(calibration)
    settings = resolve_settings(artifact.manifest, Overrides())
    generator, verifier = build_engines(settings, world.world)
    router = Router(artifact, settings, HungGenerator(generator), verifier)
    app = build_app(
        router, ServeSettings(model_ids=("sim-router",), shutdown_grace_s=grace), world.world
    )
    server = ServeServer(server_config(app, grace, log_level="warning"), grace)
    server.run(sockets=[bind_socket("127.0.0.1", port)])


if __name__ == "__main__":
    main()
