"""The step-search engine: expansion, look-ahead, scoring, finishing and the ledger, once.

Every step-level search here (beam search, DVTS, particle filtering, REBASE) is this
engine plus a ``Selector`` (``strategies.search.selector``) that decides which nodes
survive and how many children each gets. Writing the mechanics once keeps the searches
from drifting apart (DESIGN.md s.3), and a new search is a selector, not a copy.

One search step, for all live nodes of all problems at once:
1. Expand: each node the selectors chose is continued (``Prompt.partial`` = its text)
   with as many samples as its selector asked for, stopping at the step delimiter (kept
   in the text). Every node of the step shares one generator call under the step's seed:
   the call's n is the largest child count, and a node asking for fewer (REBASE,
   particle filtering) carries its own count (``Prompt.samples``), so it draws the
   samples a call with n = its count would. The first step samples the root's
   children from one prompt per problem. The last step (the depth limit) drops the stop
   string and generates to EOS.
2. Look ahead (optional, k > 0): each unfinished child is rolled out k more steps
   greedily (temperature 0), one generator call per roll-out step. The roll-out text is
   not kept, but its end IS scored and ranks the child (DESIGN.md s.3 pitfall).
3. Score: one verifier call scores every child (its text plus roll-out), split into steps
   at the delimiter. A child ranks by its reduced score (``last`` by default); its stored
   step scores are those of its own steps.
4. Select: each problem's selector reads its scored children and returns the nodes to
   expand next and the finished children that join the final pool (never an unfinished
   one). A problem whose selector expands nothing is done.

A child has finished when it ended with EOS, when its new step holds a final
``\\boxed{}`` answer, when its completion was empty (no progress is possible), when its
tokens reach ``max_tokens``, or at the depth limit. Every node's request carries its own
token cap (``Prompt.max_tokens``): what is left of its ``max_tokens``, and at most
``step_tokens`` before the last step, so a node's search never depends on the other
nodes in the call. The ledger counts the tokens actually generated. A step cut by
``step_tokens`` without a delimiter is not finished: the next step continues it, and
the two pieces count as one step.

The final answer is weighted best-of-N over the problem's pool.
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strategies.answers import states_final_answer
from strategies.generation import (
    ChatMessage,
    Completion,
    Generator,
    Prompt,
    SamplingParams,
    generation_field,
)
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search.accounting import BatchLedger
from strategies.search.base import SearchStrategy, assemble_results
from strategies.search.budget import BudgetPlan, check_budget, tree_plan
from strategies.search.result import Candidate, SearchResult
from strategies.search.sampling import invalid_scores
from strategies.search.selection import check_reduction, reduce_scores
from strategies.search.selector import Expansion, Node, Selector, StepChoice
from strategies.search.steps import build_candidate, verifier_steps
from strategies.verification import ScoreRequest, Verifier


@dataclass(frozen=True)
class TreeSearchConfig:
    beam_width: int = field(default=4, metadata={"help": "M: children per kept node per step"})
    depth: int = field(default=40, metadata={"help": "search steps at most; the last runs to EOS"})
    lookahead: int = field(default=0, metadata={"help": "k greedy roll-out steps scored per child"})
    dedupe: bool = field(default=False, metadata={"help": "drop children repeating a better one"})
    reduction: str = generation_field("reduction", "rank score: last, min or prod")
    temperature: float = generation_field("temperature", "sampling temperature of steps")
    top_p: float = generation_field("top_p")
    step_tokens: int = field(default=512, metadata={"help": "new tokens per step at most"})
    max_tokens: int = generation_field("max_tokens", "new tokens per beam at most")

    def __post_init__(self) -> None:
        check_reduction(self.reduction)
        for name in ("beam_width", "depth", "step_tokens", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lookahead < 0:
            raise ValueError(f"lookahead must be >= 0, got {self.lookahead}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


class StepSearch(SearchStrategy):
    """A step-level search: this engine plus the selector ``selector`` builds."""

    needs_verifier = True
    needs_step_verifier = True

    def plan(self, budget: int) -> BudgetPlan:
        """By default N nodes' steps per step, in one generator call per step."""
        check_budget(budget)
        config: TreeSearchConfig = self.config
        return tree_plan(
            self.spec,
            budget,
            beams=budget,
            depth=config.depth,
            lookahead=config.lookahead,
        )

    @abstractmethod
    def selector(self, budget: int, seed: int) -> Selector:
        """A fresh selector for one problem at budget N (``seed``: the problem's own)."""

    def run(
        self,
        problems: Sequence[Problem],
        budget: int,
        generator: Generator,
        verifier: Verifier | None = None,
        *,
        prompt_config: PromptConfig | None = None,
        seed: int = 0,
        reuse: Sequence[Sequence[Candidate]] | None = None,
    ) -> list[SearchResult]:
        """``reuse`` is accepted for a uniform interface and ignored: a step-level search
        cannot start from full solutions."""
        self._check_verifier(verifier)
        self.plan(budget)  # refuses a bad budget before any call
        config: TreeSearchConfig = self.config
        ledger = BatchLedger(self.spec, [p.id for p in problems], generator, verifier)
        selectors = [self.selector(budget, _problem_seed(seed, problem.id)) for problem in problems]
        search = _TreeRun(
            problems, selectors, config, prompt_config or PromptConfig(), ledger, seed
        )
        search.run()
        return assemble_results(
            strategy=self.spec,
            method=self.method,
            reduction=config.reduction,
            problems=problems,
            budget=budget,
            pools=search.candidates(),
            errors=search.errors,
            extras=search.extras(),
            ledger=ledger,
        )


def _problem_seed(seed: int, problem_id: str) -> int:
    """A selector's own random seed: a function of the run's seed and the problem only,
    so a problem's search does not depend on the batch around it."""
    digest = hashlib.blake2b(f"{seed}\x1f{problem_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _derived_seed(label: str, *parts: int) -> int:
    material = "\x1f".join([label, *map(str, parts)]).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=4).digest(), "big") & 0x7FFFFFFF


class _TreeRun:
    """The state of one step-level search over a batch of problems."""

    def __init__(
        self,
        problems: Sequence[Problem],
        selectors: Sequence[Selector],
        config: TreeSearchConfig,
        prompt_config: PromptConfig,
        ledger: BatchLedger,
        seed: int,
    ) -> None:
        self.problems = problems
        self.selectors = selectors
        self.config = config
        self.delimiter = prompt_config.step_delimiter
        self.extraction = prompt_config.extraction
        self.ledger = ledger
        self.seed = seed
        count = len(problems)
        self.solutions: list[list[Node]] = [[] for _ in range(count)]
        self.errors: list[str | None] = [None] * count
        self.pruned = [0] * count
        self.steps_taken = [0] * count
        self.messages: list[tuple[ChatMessage, ...] | None] = []
        for index, problem in enumerate(problems):
            try:
                self.messages.append(prompt_config.messages(problem.text))
            except Exception as exc:  # a malformed problem must not stop the batch
                self.messages.append(None)
                self.errors[index] = f"could not build a prompt: {exc!r}"

    def run(self) -> None:
        expansions = [
            Expansion(Node(i, "", 0), selector.first_children())
            for i, selector in enumerate(self.selectors)
            if self._ok(i)
        ]
        for depth in range(self.config.depth):
            last = depth == self.config.depth - 1
            expansions = [e for e in expansions if self._ok(e.node.problem) and e.children > 0]
            if not expansions:
                break
            for expansion in expansions:
                self.steps_taken[expansion.node.problem] = depth + 1
            children = self._expand(expansions, depth, last)
            rollouts = self._look_ahead(children, depth) if not last else {}
            self._score(children, rollouts, depth)
            expansions = self._select(children, depth)

    def _ok(self, problem: int) -> bool:
        return self.errors[problem] is None

    def _prompt(
        self, node: Node, max_tokens: int | None = None, samples: int | None = None
    ) -> Prompt:
        messages = self.messages[node.problem]
        assert messages is not None
        return Prompt(
            messages,
            partial=node.text,
            key=self.problems[node.problem].id,
            max_tokens=max_tokens,
            samples=samples,
        )

    def _seed(self, depth: int, stage: int) -> int:
        """The seed of one step's generator calls: hashed from the run's seed, so it is
        never the run's seed itself. A first step drawn under the samples' seed would
        replay the first steps of the samples drawn before the search (backends seed each
        request from the seed and the prompt): the old affine form did exactly that at
        seed 0, the default, and a router's search after a wrong vote set out from the
        wrong samples' own beginnings."""
        return _derived_seed("tree-step", self.seed, depth, stage)

    def _cap(self, node: Node, last: bool) -> int:
        remaining = self.config.max_tokens - node.num_tokens
        return max(1, remaining if last else min(self.config.step_tokens, remaining))

    def _expand(self, expansions: list[Expansion], depth: int, last: bool) -> list[Node]:
        """Children in expansion order, from one generator call: the call's n is the
        largest child count, and a node asking for fewer carries its own count
        (``Prompt.samples``), so its samples are those a call with n = its count draws."""
        parents = [expansion.node for expansion in expansions]
        caps = [self._cap(node, last) for node in parents]
        most = max(expansion.children for expansion in expansions)
        params = SamplingParams(
            n=most,
            max_tokens=max(caps),
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            stop=() if last else (self.delimiter,),
            seed=self._seed(depth, 0),
        )
        prompts = [
            self._prompt(e.node, cap, None if e.children == most else e.children)
            for e, cap in zip(expansions, caps, strict=True)
        ]
        outputs = self.ledger.generate(
            prompts,
            params,
            [node.problem for node in parents],
            stage=f"step {depth + 1}" + (" (to EOS)" if last else ""),
        )
        return [
            self._child(parent, completion, last)
            for parent, completions in zip(parents, outputs, strict=True)
            for completion in completions
        ]

    def _child(self, parent: Node, completion: Completion, last: bool) -> Node:
        tokens = parent.num_tokens + completion.num_tokens
        finished = (
            last
            or completion.finish_reason == "eos"
            or not completion.text
            or tokens >= self.config.max_tokens
            or states_final_answer(completion.text, self.extraction)
        )
        return Node(
            problem=parent.problem,
            text=parent.text + completion.text,
            num_tokens=tokens,
            group=parent.group,
            finish_reason=completion.finish_reason,
            finished=finished,
        )

    def _look_ahead(self, children: list[Node], depth: int) -> dict[int, str]:
        """Greedy roll-out text per unfinished child index (k steps at most)."""
        rollouts = {i: "" for i, child in enumerate(children) if not child.finished}
        active = list(rollouts) if self.config.lookahead else []
        for step in range(self.config.lookahead):
            if not active:
                break
            params = SamplingParams(
                n=1,
                max_tokens=self.config.step_tokens,
                temperature=0.0,
                top_p=1.0,
                stop=(self.delimiter,),
                seed=self._seed(depth, step + 1),
            )
            prompts = [
                Prompt(
                    self._prompt(children[i]).messages,
                    partial=children[i].text + rollouts[i],
                    key=self.problems[children[i].problem].id,
                )
                for i in active
            ]
            outputs = self.ledger.generate(
                prompts,
                params,
                [children[i].problem for i in active],
                stage=f"step {depth + 1} lookahead {step + 1}",
            )
            still_active = []
            for i, completions in zip(active, outputs, strict=True):
                completion = completions[0]
                rollouts[i] += completion.text
                if (
                    completion.finish_reason != "eos"
                    and completion.text
                    and not states_final_answer(completion.text, self.extraction)
                ):
                    still_active.append(i)
            active = still_active
        return rollouts

    def _score(self, children: list[Node], rollouts: dict[int, str], depth: int) -> None:
        requests: list[ScoreRequest] = []
        owners: list[int] = []
        scored: list[tuple[int, int]] = []  # (child index, number of the child's own steps)
        for i, child in enumerate(children):
            own = verifier_steps(child.text, self.delimiter)
            rollout = rollouts.get(i, "")
            steps = verifier_steps(child.text + rollout, self.delimiter) if rollout else own
            if not steps:
                continue  # nothing to score: keeps rank 0.0
            requests.append(ScoreRequest(self.problems[child.problem].text, steps))
            owners.append(child.problem)
            scored.append((i, len(own)))
        results = self.ledger.score(requests, owners, stage=f"step {depth + 1}")
        for (i, own_steps), result, request in zip(scored, results, requests, strict=True):
            child = children[i]
            problem = invalid_scores(self.ledger, result, len(request.steps), self.delimiter)
            if problem is not None:
                if self._ok(child.problem):
                    self.errors[child.problem] = problem
                continue
            scores = tuple(float(s) for s in result.scores)
            child.step_scores = scores[:own_steps]
            child.rank = reduce_scores(scores, self.config.reduction)

    def _select(self, children: list[Node], depth: int) -> list[Expansion]:
        by_problem: dict[int, list[Node]] = {}
        for child in children:
            if self._ok(child.problem):
                by_problem.setdefault(child.problem, []).append(child)
        expansions: list[Expansion] = []
        for problem, members in by_problem.items():
            choice = self.selectors[problem].select(members, depth)
            self._check_choice(problem, members, choice)
            if not self._ok(problem):
                continue
            self.solutions[problem].extend(choice.solutions)
            used = {id(node) for node in choice.solutions}
            used.update(id(e.node) for e in choice.expand if e.children > 0)
            self.pruned[problem] += sum(1 for node in members if id(node) not in used)
            expansions.extend(choice.expand)
        return expansions

    def _check_choice(self, problem: int, members: list[Node], choice: StepChoice) -> None:
        """A selector may pool only finished nodes and expand only unfinished ones."""
        if any(not node.finished for node in choice.solutions):
            self.errors[problem] = "the search's selector pooled an unfinished solution"
        elif any(e.node.finished or e.node.problem != problem for e in choice.expand):
            self.errors[problem] = "the search's selector expanded a finished node"

    def candidates(self) -> list[list[Candidate]]:
        pools: list[list[Candidate]] = []
        for index, nodes in enumerate(self.solutions):
            if not self._ok(index):
                pools.append([])
                continue
            try:
                pools.append(
                    [
                        build_candidate(
                            n.text,
                            n.step_scores,
                            n.finish_reason,
                            n.num_tokens,
                            self.delimiter,
                            self.extraction,
                        )
                        for n in nodes
                    ]
                )
            except Exception as exc:  # one bad problem must not stop the batch
                self.errors[index] = f"could not build its solutions: {exc!r}"
                pools.append([])
        return pools

    def extras(self) -> list[dict[str, Any]]:
        return [
            {
                **self.selectors[i].extra(),
                "search_steps": self.steps_taken[i],
                "pruned": self.pruned[i],
            }
            for i in range(len(self.problems))
        ]
