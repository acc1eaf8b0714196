"""Render a Prompt into model input exactly once, for every local backend.

Three pitfalls live here (the first two from DESIGN.md section 3): chat templates such as Llama 3's trim
message content, so a partial assistant answer passed as a message loses its trailing
"\\n\\n"; and a template that writes BOS plus a tokenizer that adds another gives two.
So the chat is rendered with the generation prompt, the partial answer is appended
verbatim, and the text is tokenized without special tokens, with one BOS ensured. Third,
a partial answer ending in whitespace must be tokenized as the model would write it
with more to come (``_open_ended_ids``).
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


# A character that starts a word in every tokenizer we know and merges with no newline.
_SENTINEL = "A"


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _open_ended_ids(tokenizer: Any, text: str) -> list[int]:
    """The tokens ``text`` has when more text follows it, as during generation.

    A partial answer ends at a step delimiter such as "\n\n". Tokenized alone, GPT-2
    style tokenizers (SmolLM2's among them) turn a trailing "\n\n" into one token that
    in training only ever came before more whitespace or the end of a document, while the
    model itself writes "\n", "\n" before the next word. Prompted with the merged token
    SmolLM2 lost the thread: with random step choices, 78 % of its beam-search paths on
    arithmetic ended without an answer, against 52 % of whole samples. So the text is
    tokenized with a sentinel word after it, and the sentinel's token dropped, when that
    leaves exactly ``text``; otherwise the plain tokens stand. Tokenizers that merge
    "\n\n" before words too (Llama 3) get the same ids either way.
    """
    plain = _ids(tokenizer, text)
    if not text[-1:].isspace():
        return plain
    extended = _ids(tokenizer, text + _SENTINEL)
    if not extended or tokenizer.decode(extended[-1:]) != _SENTINEL:
        return plain
    head = extended[:-1]
    common = 0
    for mine, theirs in zip(plain, head, strict=False):
        if mine != theirs:
            break
        common += 1
    if tokenizer.decode(head[common:]) != tokenizer.decode(plain[common:]):
        return plain
    return head


def _tokenizer_adds_bos(tokenizer: Any) -> bool:
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == bos


def render_prompt_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids with exactly one BOS when the model uses one, never two."""
    text = render_prompt_text(tokenizer, prompt)
    ids = _open_ended_ids(tokenizer, text) if prompt.partial else _ids(tokenizer, text)
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is not None:
        while len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
            ids.pop(0)
        if _tokenizer_adds_bos(tokenizer) and (not ids or ids[0] != bos):
            ids.insert(0, bos)
    return ids
