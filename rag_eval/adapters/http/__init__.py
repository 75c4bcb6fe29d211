"""The HTTP face of the API and list functions: requests, responses, errors, OpenAPI."""
