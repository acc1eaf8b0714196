"""Generator backends: vLLM, OpenAI-compatible HTTP, transformers, and the simulator.

Each backend module imports its heavy dependency lazily, so importing this package
never needs vllm, torch or a network.
"""
