"""The run's facts as summary.md lists them: the cache's work, the budget's spend, the
judge's cost (rag_eval/scoring/run_folder.py's `render_summary`)."""

from __future__ import annotations

from rag_eval.domain.budget import Budget
from rag_eval.domain.job import JobCache
from rag_eval.domain.pricing import Cost
from rag_eval.domain.safe_text import markdown_cell


def cache_line(cache: JobCache, cost: Cost | None) -> str:
    if cache.mode == "off":
        return "off (every request went to the judge)"
    saved = cost.saved_usd if cost is not None else None
    amount = f"${saved:.4f}" if saved is not None else "an unknown amount (no price)"
    return (
        f"{cache.hits} hit(s), {cache.misses} miss(es) ({cache.mode}); saved "
        f"{cache.saved.input_tokens} input and {cache.saved.output_tokens} output tokens, "
        f"{amount}"
    )


def budget_line(budget: Budget) -> str:
    limits = [
        *([f"${budget.max_cost_usd:g}"] if budget.max_cost_usd is not None else []),
        *([f"{budget.max_judge_calls} judge calls"] if budget.max_judge_calls is not None else []),
    ]
    return (
        f"{budget.judge_calls} judge call(s), ${budget.cost_usd:.4f} spent of {' / '.join(limits)}"
    )


def dollars(cost: Cost) -> str:
    """`$0.0123 (gpt-4o-mini $0.0120, text-embedding-3-small $0.0003)`, or why not.
    Model names come from requests: escaped as any text of theirs."""
    models = ", ".join(
        markdown_cell(model) + (f" ${c.usd:.4f}" if c.usd is not None else " no price")
        for model, c in cost.by_model.items()
    )
    total = f"${cost.total_usd:.4f}" if cost.total_usd is not None else "unknown"
    said = total + (f" ({models})" if models else "")
    return said + (f"; {markdown_cell(cost.reason)}" if cost.reason else "")
