"""ragas-serverless: RAG answer scoring with ragas metrics.

The domain package. It holds everything that is not a Lambda handler and touches
AWS only through adapters created lazily. Importing it (or its light modules:
settings, models, metrics, jobs) never imports ragas, pandas or numpy.
"""

__version__ = "0.1.0"
