"""ragas-serverless: RAG answer scoring with ragas metrics.

The product: everything that is not a Lambda handler, one subpackage per layer (the map
is docs/ARCHITECTURE.md). It touches AWS only through `rag_eval.adapters`, whose clients
are created lazily; the modules the API and list functions import never import ragas,
pandas or numpy.
"""

__version__ = "0.1.0"
