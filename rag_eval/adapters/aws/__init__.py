"""The AWS adapters: DynamoDB, SQS, S3 and SSM behind the ports, the composition roots of
the three functions (`api_root`, `worker_root`), and the handlers' logging."""
