"""A `ttc` launcher for kill-and-resume tests, shared by the calibration and router tests.

Run as ``python -c SLOW_TTC DELAY ARGS...``: every simulator generate call sleeps DELAY
seconds first, so a SIGKILL sent after a moment lands mid-run.
"""

SLOW_TTC = """
import sys, time
from strategies.simulation.generator import SimulatorGenerator
original = SimulatorGenerator.generate
def slow(self, prompts, params):
    time.sleep(float(sys.argv[1]))
    return original(self, prompts, params)
SimulatorGenerator.generate = slow
from router.cli import main
sys.exit(main(sys.argv[2:]))
"""
