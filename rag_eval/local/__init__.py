"""The local stack: the template's resources in moto, its API routes and its settings.

Everything here runs on a developer's machine or in the tests, never on Lambda (the
CommonLayer and the worker image leave this package out). Its heavy imports (moto,
aws-sam-translator, PyYAML) happen inside the functions that need them.
"""
