"""Render a Prompt into model input exactly once, for every local backend.

Two pitfalls live here (DESIGN.md section 3): chat templates such as Llama 3's trim
message content, so a partial assistant answer passed as a message loses its trailing
"\\n\\n"; and a template that writes BOS plus a tokenizer that adds another gives two.
So the chat is rendered with the generation prompt, the partial answer is appended
verbatim, and the text is tokenized without special tokens, with one BOS ensured.
"""

from __future__ import annotations

from typing import Any

from strategies.generation import Prompt


def render_prompt_text(tokenizer: Any, prompt: Prompt) -> str:
    """The prompt as the model sees it, partial answer appended untrimmed."""
    messages = [{"role": m.role, "content": m.content} for m in prompt.messages]
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
    else:
        rendered = "".join(f"{m['content']}\n\n" for m in messages)
    return str(rendered) + prompt.partial


def _tokenizer_adds_bos(tokenizer: Any) -> bool:
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos


def render_prompt_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids with exactly one BOS when the model uses one, never two."""
    text = render_prompt_text(tokenizer, prompt)
    ids: list[int] = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None:
        while len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
            ids.pop(0)
        if _tokenizer_adds_bos(tokenizer) and (not ids or ids[0] != bos):
            ids.insert(0, bos)
    return ids
