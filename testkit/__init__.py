"""Test doubles for the tests, the benchmarks and the worker image check: a scripted
OpenAI-compatible judge and a Bedrock stub, both on loopback.

Development only: no module of `rag_eval` imports this package (an import-linter contract
holds that), and it is not part of the installed distribution.
"""
