"""A client of the score-jobs API, local or deployed (standard-library HTTP only).

Authentication follows the endpoint: an API key (`x-api-key`) when one is given; none on
loopback (the local stack); otherwise SigV4 for `execute-api` (`sigv4`).
"""

from rag_eval.client.api import ScoreJobsClient
from rag_eval.client.errors import ApiError, WaitTimeout, describe_problem
from rag_eval.client.sigv4 import RequestNotSent, sigv4_headers

__all__ = [
    "ApiError",
    "RequestNotSent",
    "ScoreJobsClient",
    "WaitTimeout",
    "describe_problem",
    "sigv4_headers",
]
