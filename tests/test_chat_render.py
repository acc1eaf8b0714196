"""Rendering a prompt with a partial assistant answer: untrimmed, and exactly one BOS.

The tiny tokenizer carries a Llama-3-style template that trims message content and writes
BOS itself (tests/tiny_models.LLAMA3_TEMPLATE), the two pitfalls of DESIGN.md section 3.
"""

from __future__ import annotations

import pytest
from tiny_models import build_tiny_tokenizer

from strategies.backends.chat import render_prompt_ids, render_prompt_text
from strategies.generation import ChatMessage, Prompt

PARTIAL = "## Step 1: Add the numbers\n9 + 6 = 15\n\n"
CHAT = (
    ChatMessage("system", "Solve the following math problem."),
    ChatMessage("user", "What is 9 + 6?"),
)


@pytest.fixture(scope="module")
def llama3_tokenizer():
    return build_tiny_tokenizer()


def bos_tokenizer(template: str | None):
    """The tiny tokenizer, but one that adds BOS itself when asked for special tokens."""
    from tokenizers import processors

    tokenizer = build_tiny_tokenizer()
    bos = tokenizer.bos_token
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, tokenizer.bos_token_id)]
    )
    tokenizer.chat_template = template
    return tokenizer


def test_template_trims_a_partial_answer_passed_as_a_message(llama3_tokenizer):
    """The pitfall itself: continuing the answer through the template loses its "\\n\\n"."""
    messages = [{"role": m.role, "content": m.content} for m in CHAT]
    messages.append({"role": "assistant", "content": PARTIAL})
    naive = llama3_tokenizer.apply_chat_template(
        messages, tokenize=False, continue_final_message=True
    )
    assert naive.endswith(PARTIAL.strip())
    assert not naive.endswith(PARTIAL)


def test_continued_answer_keeps_its_trailing_blank_line(llama3_tokenizer):
    prompt = Prompt(CHAT, partial=PARTIAL)
    text = render_prompt_text(llama3_tokenizer, prompt)
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n" + PARTIAL)
    ids = render_prompt_ids(llama3_tokenizer, prompt)
    assert llama3_tokenizer.decode(ids).endswith(PARTIAL)
    # The ids are the text's own tokens: nothing added or dropped on the way.
    assert llama3_tokenizer.decode(ids) == text


def test_one_bos_when_only_the_template_writes_it(llama3_tokenizer):
    ids = render_prompt_ids(llama3_tokenizer, Prompt(CHAT, partial=PARTIAL))
    assert ids[0] == llama3_tokenizer.bos_token_id
    assert ids.count(llama3_tokenizer.bos_token_id) == 1


def test_one_bos_when_template_and_tokenizer_both_write_it():
    from tiny_models import LLAMA3_TEMPLATE

    tokenizer = bos_tokenizer(LLAMA3_TEMPLATE)
    assert tokenizer("a")["input_ids"][0] == tokenizer.bos_token_id  # it adds one itself
    ids = render_prompt_ids(tokenizer, Prompt(CHAT, partial=PARTIAL))
    assert ids[0] == tokenizer.bos_token_id
    assert ids.count(tokenizer.bos_token_id) == 1


def test_one_bos_when_only_the_tokenizer_adds_it():
    no_bos_template = (
        "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}"
        "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    tokenizer = bos_tokenizer(no_bos_template)
    prompt = Prompt(CHAT, partial=PARTIAL)
    ids = render_prompt_ids(tokenizer, prompt)
    assert ids[0] == tokenizer.bos_token_id
    assert ids.count(tokenizer.bos_token_id) == 1
    assert tokenizer.decode(ids[1:]) == render_prompt_text(tokenizer, prompt)


def test_no_template_joins_messages_and_keeps_the_partial():
    tokenizer = bos_tokenizer(None)
    prompt = Prompt(CHAT, partial=PARTIAL)
    text = render_prompt_text(tokenizer, prompt)
    assert text == "Solve the following math problem.\n\nWhat is 9 + 6?\n\n" + PARTIAL
    ids = render_prompt_ids(tokenizer, prompt)
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id


def test_empty_partial_ends_at_the_generation_prompt(llama3_tokenizer):
    text = render_prompt_text(llama3_tokenizer, Prompt(CHAT))
    assert text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_a_partial_answer_is_tokenized_as_the_model_would_continue_it(llama3_tokenizer):
    """Byte-level BPE merges a trailing "\\n\\n" into a token it never writes before a word;
    the rendered prompt must be a prefix of the tokens the text has when it goes on."""
    prompt = Prompt(CHAT, partial=PARTIAL)
    text = render_prompt_text(llama3_tokenizer, prompt)

    def tokens(s):
        return llama3_tokenizer(s, add_special_tokens=False)["input_ids"]

    alone, continued = tokens(text), tokens(text + "The final answer is 15.")
    assert continued[: len(alone)] != alone  # the pitfall is real for this tokenizer
    ids = render_prompt_ids(llama3_tokenizer, prompt)
    assert continued[: len(ids)] == ids
    assert llama3_tokenizer.decode(ids) == text


def test_a_partial_answer_ending_in_a_space_keeps_its_plain_tokens(llama3_tokenizer):
    # the sentinel would merge with the space (" A"), so nothing is healed
    prompt = Prompt(CHAT, partial="The final answer is ")
    text = render_prompt_text(llama3_tokenizer, prompt)
    ids = render_prompt_ids(llama3_tokenizer, prompt)
    assert ids == llama3_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert llama3_tokenizer.decode(ids) == text
