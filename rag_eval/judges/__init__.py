"""The judge LLM and embeddings: providers (`provider`), clients (`factory`,
`openai_compatible`, `bedrock`) and how their failures are named (`failures`).

Kept empty so that importing `rag_eval.judges.provider` (the API does) loads no client.
"""
