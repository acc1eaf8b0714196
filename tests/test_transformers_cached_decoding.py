"""The transformers backend's own decoding loop (``CachedDecoder``) against
``model.generate``, and the prefix store it reads prompts from, on a tiny local Llama.

The cached loop must be an optimisation only: for the same seeds it gives the same text,
token counts and finish reasons as the ``generate`` path, whatever it has stored from
earlier calls, with stop strings, per-prompt caps, several samples and greedy calls.
"""

from __future__ import annotations

import pytest
import torch

from strategies.backends.prefix_store import PrefixStore
from strategies.backends.transformers_backend import TransformersGenerator
from strategies.generation import ChatMessage, Prompt, SamplingParams
from strategies.hf_loading import load_causal_lm


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tiny_llama_dir):
    return load_causal_lm(str(tiny_llama_dir), dtype="float32")


def build(tiny, decoder: str) -> TransformersGenerator:
    model, tokenizer = tiny
    return TransformersGenerator("tiny", model_obj=model, tokenizer=tokenizer, decoder=decoder)


def user(text: str, partial: str = "", cap: int | None = None) -> Prompt:
    return Prompt((ChatMessage("user", text),), partial=partial, max_tokens=cap)


def drawn(outputs):
    return [[(c.text, c.num_tokens, c.finish_reason) for c in samples] for samples in outputs]


def search_like_calls() -> list[tuple[list[Prompt], SamplingParams]]:
    """A search's pattern: the same problem again with growing partial answers."""
    head = "Add the numbers 47 and 38, then multiply the total by 6."
    step = SamplingParams(n=3, max_tokens=12, temperature=1.0, stop=("\n\n", " so"), seed=5)
    return [
        ([user(head), user("What is 2 + 3?")], step),
        ([user(head, "## Step 1: add"), user(head, "## Step 1: the", cap=4)], step),
        ([user(head, "## Step 1: add the numbers 47")], SamplingParams(n=2, max_tokens=9, seed=2)),
        (
            [user(head, "## Step 1: add"), user("so")],
            SamplingParams(n=4, max_tokens=6, temperature=0),
        ),
    ]


def test_the_cached_loop_is_the_generate_path_made_faster(tiny):
    cached, plain = build(tiny, "cached"), build(tiny, "generate")
    assert (cached.decoder, plain.decoder) == ("cached", "generate")
    for prompts, params in search_like_calls():
        ours, theirs = cached.generate(prompts, params), plain.generate(prompts, params)
        assert drawn(ours) == drawn(theirs)
        for a, b in zip(ours, theirs, strict=True):
            for x, y in zip(a, b, strict=True):
                assert x.logprob == pytest.approx(y.logprob, abs=1e-3)
    decoder = cached.cached
    assert decoder is not None
    # Later calls started from what earlier ones read: most prompt tokens came from the store.
    assert decoder.reused_tokens > decoder.read_tokens


def test_each_distinct_prompt_is_read_once_for_all_its_samples(tiny):
    generator = build(tiny, "cached")
    decoder = generator.cached
    assert decoder is not None
    prompt = user("What is 2 + 3?")
    length = len(generator.prompt_ids(prompt))
    generator.generate([prompt], SamplingParams(n=8, max_tokens=3, seed=1))
    assert (decoder.read_tokens, decoder.reused_tokens) == (length, 0)
    # Again: only its last token is read (for its logits), the rest is stored.
    generator.generate([prompt], SamplingParams(n=8, max_tokens=3, seed=2))
    assert (decoder.read_tokens, decoder.reused_tokens) == (length + 1, length - 1)


def test_unknown_decoder_is_refused(tiny):
    with pytest.raises(ValueError, match="decoder must be one of cached, generate"):
        build(tiny, "fast")


def states(tokens: int, heads: int = 2, dim: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.zeros(heads, tokens, dim), torch.zeros(heads, tokens, dim))]


def test_store_finds_the_longest_shared_prefix():
    store = PrefixStore(max_bytes=1 << 20)
    store.put((1, 2, 3), states(3))
    store.put((1, 2, 9, 9, 9), states(5))
    assert store.longest((1, 2, 3, 4)).length == 3
    assert store.longest((1, 2, 9, 9, 7)).length == 4
    assert store.longest((7, 2, 3)).length == 0
    assert store.longest((7, 2, 3)).states is None


def test_store_skips_covered_prompts_and_drops_the_least_recent_over_its_bound():
    one = 2 * 2 * 3 * 4 * 4  # keys and values of 3 tokens, float32
    store = PrefixStore(max_bytes=2 * one)
    store.put((1, 2, 3), states(3))
    store.put((1, 2), states(2))  # covered by (1, 2, 3): not stored
    assert len(store) == 1
    store.put((4, 5, 6), states(3))
    store.longest((1, 2, 3))  # (1, 2, 3) is now the most recent
    store.put((7, 8, 9), states(3))
    assert store.longest((4, 5, 6)).length == 0
    assert store.longest((1, 2, 3)).length == 3
    assert store.bytes <= store.max_bytes
