"""The one step-expansion core behind beam search and DVTS.

Both searches are the same loop over a different ``TreeLayout`` (strategies.search.budget):
beam search is one group per problem keeping its N/M best nodes, DVTS is N/M groups per
problem each keeping its best node. Every kept node expands M children per step. Writing
the loop once keeps the two from drifting apart (DESIGN.md s.3).

One search step, for all live nodes of all problems at once:
1. Expand: one generator call continues every live node (``Prompt.partial`` = the node's
   text) with ``n`` = M samples that stop at the step delimiter (kept in the text). The
   first step samples all N children of a problem from one prompt (n = N) and deals them
   to the groups in order, M x kept each. The last step (the depth limit) drops the stop
   string and generates to EOS.
2. Look ahead (optional, k > 0): each unfinished child is rolled out k more steps
   greedily (temperature 0), one generator call per roll-out step. The roll-out text is
   not kept, but its end IS scored and ranks the child (DESIGN.md s.3 pitfall).
3. Score: one verifier call scores every child (its text plus roll-out), split into steps
   at the delimiter. A child ranks by its reduced score (``last`` by default); its stored
   step scores are those of its own steps.
4. Select: each group keeps its ``kept`` best children (ties: earlier child first;
   optionally dropping children whose text repeats a better one). A kept child that has
   finished leaves the pool as a solution; the other kept children are expanded next
   step. Children not kept are pruned.

A child has finished when it ended with EOS, when its new step holds a final
``\\boxed{}`` answer, when its completion was empty (no progress is possible), when its
tokens reach ``max_tokens``, or at the depth limit. A generator call has one token limit
for all its prompts, so ``max_tokens`` is a soft cap: it is checked between steps (a
step may pass it by up to ``step_tokens``), and the last, to-EOS call allows the largest
remaining budget among the live beams, so a beam that had used more may end above it.
The ledger always counts the tokens actually generated. A step cut by ``step_tokens`` without a delimiter is
not finished: the next step continues it, and the two pieces count as one step.

The final answer is weighted best-of-N over the problem's solutions. Compared with
search-and-learn, beam search here keeps a finished child only when it ranks among the
group's best (the same rule DVTS uses), instead of keeping every finished child.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strategies.answers import states_final_answer
from strategies.generation import ChatMessage, Completion, Generator, Prompt, SamplingParams
from strategies.problems import Problem
from strategies.prompts import PromptConfig
from strategies.search.accounting import BatchLedger
from strategies.search.base import SearchStrategy, assemble_results
from strategies.search.budget import BudgetPlan, TreeLayout, tree_plan
from strategies.search.result import Candidate, SearchResult
from strategies.search.sampling import invalid_scores
from strategies.search.selection import check_reduction, reduce_scores
from strategies.search.steps import build_candidate, verifier_steps
from strategies.verification import ScoreRequest, Verifier

LayoutFunction = Callable[[int, int], TreeLayout]


@dataclass(frozen=True)
class TreeSearchConfig:
    beam_width: int = field(default=4, metadata={"help": "M: children per kept node per step"})
    depth: int = field(default=40, metadata={"help": "search steps at most; the last runs to EOS"})
    lookahead: int = field(default=0, metadata={"help": "k greedy roll-out steps scored per child"})
    dedupe: bool = field(default=False, metadata={"help": "drop children repeating a better one"})
    reduction: str = field(default="last", metadata={"help": "rank score: last, min or prod"})
    temperature: float = field(default=0.8, metadata={"help": "sampling temperature of steps"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass"})
    step_tokens: int = field(default=512, metadata={"help": "new tokens per step at most"})
    max_tokens: int = field(default=2048, metadata={"help": "new tokens per beam at most"})

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


class TreeSearch(SearchStrategy):
    """Beam search or DVTS, depending on ``layout``."""

    needs_verifier = True

    def __init__(self, name: str, layout: LayoutFunction, config: TreeSearchConfig) -> None:
        super().__init__(name, config)
        self.layout = layout

    def plan(self, budget: int) -> BudgetPlan:
        config: TreeSearchConfig = self.config
        layout = self.layout(budget, config.beam_width)
        return tree_plan(self.spec, budget, layout, config.depth, config.lookahead)

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
        """``reuse`` is accepted for a uniform interface and ignored: a tree search cannot
        start from full solutions."""
        self._check_verifier(verifier)
        config: TreeSearchConfig = self.config
        layout = self.layout(budget, config.beam_width)
        ledger = BatchLedger(self.spec, [p.id for p in problems], generator, verifier)
        search = _TreeRun(problems, layout, config, prompt_config or PromptConfig(), ledger, seed)
        search.run()
        return assemble_results(
            strategy=self.spec,
            method="weighted_best_of_n",
            reduction=config.reduction,
            problems=problems,
            budget=budget,
            pools=search.candidates(),
            errors=search.errors,
            extras=search.extras(),
            ledger=ledger,
        )


@dataclass
class _Node:
    """A partial solution in the tree (a beam)."""

    problem: int
    group: int
    text: str
    num_tokens: int
    finish_reason: str = "stop"
    finished: bool = False
    step_scores: tuple[float, ...] = ()
    rank: float = 0.0


class _TreeRun:
    """The state of one tree search over a batch of problems."""

    def __init__(
        self,
        problems: Sequence[Problem],
        layout: TreeLayout,
        config: TreeSearchConfig,
        prompt_config: PromptConfig,
        ledger: BatchLedger,
        seed: int,
    ) -> None:
        self.problems = problems
        self.layout = layout
        self.config = config
        self.delimiter = prompt_config.step_delimiter
        self.extraction = prompt_config.extraction
        self.ledger = ledger
        self.seed = seed
        count = len(problems)
        self.solutions: list[list[_Node]] = [[] for _ in range(count)]
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
        live: list[_Node] = []
        for depth in range(self.config.depth):
            last = depth == self.config.depth - 1
            if depth == 0:
                parents = [_Node(i, 0, "", 0) for i in range(len(self.problems)) if self._ok(i)]
                samples = self.layout.beams
            else:
                parents = [node for node in live if self._ok(node.problem)]
                samples = self.layout.width
            if not parents:
                break
            for node in parents:
                self.steps_taken[node.problem] = depth + 1
            children = self._expand(parents, samples, depth, last)
            rollouts = self._look_ahead(children, depth) if not last else {}
            self._score(children, rollouts, depth)
            live = self._select(children)

    def _ok(self, problem: int) -> bool:
        return self.errors[problem] is None

    def _prompt(self, node: _Node) -> Prompt:
        messages = self.messages[node.problem]
        assert messages is not None
        return Prompt(messages, partial=node.text, key=self.problems[node.problem].id)

    def _seed(self, depth: int, stage: int) -> int:
        return (self.seed * 1_000_003 + depth * 101 + stage) % (2**31 - 1)

    def _expand(self, parents: list[_Node], samples: int, depth: int, last: bool) -> list[_Node]:
        config = self.config
        remaining = max(config.max_tokens - node.num_tokens for node in parents)
        params = SamplingParams(
            n=samples,
            max_tokens=max(1, remaining if last else min(config.step_tokens, remaining)),
            temperature=config.temperature,
            top_p=config.top_p,
            stop=() if last else (self.delimiter,),
            seed=self._seed(depth, 0),
        )
        outputs = self.ledger.generate(
            [self._prompt(node) for node in parents],
            params,
            [node.problem for node in parents],
            stage=f"step {depth + 1}" + (" (to EOS)" if last else ""),
        )
        per_group = self.layout.kept * self.layout.width
        children = []
        for parent, completions in zip(parents, outputs, strict=True):
            for j, completion in enumerate(completions):
                group = j // per_group if depth == 0 else parent.group
                children.append(self._child(parent, group, completion, last))
        return children

    def _child(self, parent: _Node, group: int, completion: Completion, last: bool) -> _Node:
        tokens = parent.num_tokens + completion.num_tokens
        finished = (
            last
            or completion.finish_reason == "eos"
            or not completion.text
            or tokens >= self.config.max_tokens
            or states_final_answer(completion.text, self.extraction)
        )
        return _Node(
            problem=parent.problem,
            group=group,
            text=parent.text + completion.text,
            num_tokens=tokens,
            finish_reason=completion.finish_reason,
            finished=finished,
        )

    def _look_ahead(self, children: list[_Node], depth: int) -> dict[int, str]:
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

    def _score(self, children: list[_Node], rollouts: dict[int, str], depth: int) -> None:
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
            problem = invalid_scores(self.ledger, result.scores, len(request.steps), self.delimiter)
            if problem is not None:
                if self._ok(child.problem):
                    self.errors[child.problem] = problem
                continue
            scores = tuple(float(s) for s in result.scores)
            child.step_scores = scores[:own_steps]
            child.rank = reduce_scores(scores, self.config.reduction)

    def _select(self, children: list[_Node]) -> list[_Node]:
        groups: dict[tuple[int, int], list[_Node]] = defaultdict(list)
        for child in children:
            if self._ok(child.problem):
                groups[(child.problem, child.group)].append(child)
        live: list[_Node] = []
        for (problem, _), members in groups.items():
            ranked = sorted(range(len(members)), key=lambda i: (-members[i].rank, i))
            kept: list[_Node] = []
            seen: set[str] = set()
            for i in ranked:
                if len(kept) == self.layout.kept:
                    break
                member = members[i]
                if self.config.dedupe:
                    if member.text in seen:
                        continue
                    seen.add(member.text)
                kept.append(member)
            self.pruned[problem] += len(members) - len(kept)
            for node in kept:
                (self.solutions[problem] if node.finished else live).append(node)
        return live

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
        layout = {
            "groups": self.layout.groups,
            "kept_per_group": self.layout.kept,
            "beam_width": self.layout.width,
        }
        return [
            {
                "effective_budget": self.layout.beams,
                "layout": dict(layout),
                "search_steps": self.steps_taken[i],
                "pruned": self.pruned[i],
            }
            for i in range(len(self.problems))
        ]
