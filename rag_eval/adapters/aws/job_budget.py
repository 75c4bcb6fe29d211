"""The job's judge budget on its item in the ScoreJobs table: `budget_calls` and
`budget_usd`, the part of `WorkerRepository` that counts what a job spends (mixed into
`DynamoJobRepository`, which provides `client` and `_table`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rag_eval.adapters.aws.dynamo_items import from_dynamo, is_conditional_failure, to_dynamo
from rag_eval.domain.budget import BudgetLimits


class JobBudgetCounters:
    """Each judge call counted by a conditional write before it starts (see
    `rag_eval.app.live.JobBudget`)."""

    client: Any
    _table: str

    def reserve_judge_call(self, job_id: str, limits: BudgetLimits) -> bool:
        conditions = ["attribute_exists(job_id)"]
        values: dict[str, Any] = {":zero": {"N": "0"}, ":one": {"N": "1"}}
        if limits.max_judge_calls is not None:
            conditions.append("(attribute_not_exists(budget_calls) OR budget_calls < :calls)")
            values[":calls"] = {"N": str(limits.max_judge_calls)}
        if limits.max_cost_usd is not None:
            conditions.append("(attribute_not_exists(budget_usd) OR budget_usd < :usd)")
            values[":usd"] = to_dynamo(limits.max_cost_usd)
        try:
            self.client.update_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}},
                UpdateExpression="SET budget_calls = if_not_exists(budget_calls, :zero) + :one",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def add_judge_spend(self, job_id: str, usd: float) -> None:
        self.client.update_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="ADD budget_usd :usd",
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":usd": {"N": str(Decimal(repr(usd)))}},
        )

    def judge_spend(self, job_id: str) -> tuple[int, float]:
        item = self.client.get_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            ConsistentRead=True,
            ProjectionExpression="budget_calls, budget_usd",
        ).get("Item", {})
        calls = from_dynamo(item["budget_calls"]) if "budget_calls" in item else 0
        usd = from_dynamo(item["budget_usd"]) if "budget_usd" in item else 0.0
        return int(calls), float(usd)
