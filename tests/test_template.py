"""template.yaml: deployed into moto and expanded offline (the pins its builds install are
generated from the lock: tests/test_pins.py).

`sam validate --lint` and `sam build` need the SAM CLI's own environment: `make sam-check`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rag_eval.adapters.aws import metrics
from rag_eval.app.routes import ROUTES
from rag_eval.domain.settings import Settings
from rag_eval.domain.states import JobState
from rag_eval.local.deploy import deploy
from rag_eval.local.template import api_routes, expand_template, function_environment

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("ApiFunction", "ListFunction", "WorkerFunction")
JUDGE_PARAMETERS = {
    "OpenAIApiKeyParameter": "/ragas-serverless/openai-api-key",
    "BedrockEnabled": "true",
}
# Template variables that are no setting of the service (rag_eval/domain/settings.py):
# what the SDK and the libraries read themselves.
NOT_SETTINGS = {
    "AWS_ENDPOINT_URL",  # botocore: every AWS service's endpoint; empty on AWS (see below)
    "RAGAS_DO_NOT_TRACK",  # ragas: its telemetry
    "POWERTOOLS_SERVICE_NAME",  # Powertools: the logs' and metrics' service
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
# Settings that name the stack's resources: no default can match them.
DEPLOYED_NAMES = {
    "SCORE_JOBS_TABLE",
    "SCORE_QUEUE_URL",
    "SCORE_SHARD_QUEUE_URL",
    "SCORE_DLQ_URL",
    "ARTIFACTS_BUCKET",
    "RAGAS_CACHE_TABLE",
    "EVENT_BUS_NAME",
}
# The callers' webhook secrets: the one path of SSM parameters the functions reach.
WEBHOOK_SECRETS = (
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${WebhookSecretPrefix}/*"
)


@pytest.fixture(scope="module")
def fake_aws() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def stack(fake_aws: None) -> dict[str, str]:
    """GIVEN the real template deployed into moto with its default parameters."""
    return deploy(boto3.client("cloudformation"), stack_name="default-stack")


@pytest.fixture(scope="module")
def expanded() -> dict[str, Any]:
    """GIVEN the real template expanded by the SAM transform, default parameters."""
    return expand_template()


def test_the_job_table_lists_newest_first_by_creation_or_status_and_expires_items(
    stack: dict[str, str],
) -> None:
    dynamodb = boto3.client("dynamodb")

    table = dynamodb.describe_table(TableName=stack["ScoreJobs"])["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=stack["ScoreJobs"])["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=stack["ScoreJobs"])

    assert table["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {
        index["IndexName"]: (index["KeySchema"], index["Projection"]["ProjectionType"])
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "ByCreated": (
            [
                {"AttributeName": "listing", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "ALL",
        ),
        "BySuite": (
            [
                {"AttributeName": "suite_listing", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "ALL",
        ),
    }
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_queue_parks_a_job_after_three_deliveries_and_hides_it_while_the_worker_runs(
    stack: dict[str, str],
) -> None:
    sqs = boto3.client("sqs")

    queue = sqs.get_queue_attributes(QueueUrl=stack["ScoreQueue"], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=stack["ScoreDLQ"], AttributeNames=["All"])
    worker = boto3.client("lambda").get_function_configuration(FunctionName=stack["WorkerFunction"])

    redrive = json.loads(queue["Attributes"]["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": 3}
    assert int(queue["Attributes"]["VisibilityTimeout"]) >= 6 * worker["Timeout"]
    assert worker["Timeout"] == 900
    assert queue["Attributes"]["SqsManagedSseEnabled"] == "true"
    assert dlq["Attributes"]["SqsManagedSseEnabled"] == "true"
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"
    # The worker consumes the DLQ too: Lambda refuses a queue that hides a message for less
    # than the function's timeout.
    assert int(dlq["Attributes"]["VisibilityTimeout"]) >= 6 * worker["Timeout"]


def test_the_queue_keeps_its_messages_for_the_local_poller(stack: dict[str, str]) -> None:
    sqs = boto3.client("sqs")

    sqs.send_message(QueueUrl=stack["ScoreQueue"], MessageBody='{"job_id": "j1"}')
    received = sqs.receive_message(QueueUrl=stack["ScoreQueue"], WaitTimeSeconds=0)

    # moto's event source mapping would have swallowed it: the moto stack has none.
    assert [message["Body"] for message in received["Messages"]] == ['{"job_id": "j1"}']
    sqs.delete_message(
        QueueUrl=stack["ScoreQueue"], ReceiptHandle=received["Messages"][0]["ReceiptHandle"]
    )


def test_the_artifacts_bucket_is_encrypted_private_and_expires_old_files(
    stack: dict[str, str],
) -> None:
    s3 = boto3.client("s3")
    bucket = stack["ArtifactsBucket"]

    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    public_access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]

    algorithms = {
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in encryption["Rules"]
    }
    assert algorithms <= {"AES256", "aws:kms"} and algorithms
    assert public_access == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert ownership == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    expirations = {
        rule["Filter"]["Prefix"]: rule["Expiration"]["Days"]
        for rule in lifecycle
        if "Expiration" in rule
    }
    assert expirations == {
        "score-async/": 365,
        "score-requests/": 14,
        "score-uploads/": 7,
        "score-work/": 14,
        "score-cache/": 30,
        "score-labels/": 365,  # as long as the run folders they label
    }
    assert any("AbortIncompleteMultipartUpload" in rule for rule in lifecycle)


def test_both_buckets_refuse_plain_http(expanded: dict[str, Any]) -> None:
    policies = _resources_of_type(expanded, "AWS::S3::BucketPolicy")

    assert {p["Properties"]["Bucket"]["Ref"] for p in policies.values()} == {
        "ArtifactsBucket",
        "AccessLogsBucket",
    }
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        deny = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
        assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_artifacts_bucket_logs_every_access_to_a_private_encrypted_bucket(
    expanded: dict[str, Any], stack: dict[str, str]
) -> None:
    buckets = _resources_of_type(expanded, "AWS::S3::Bucket")
    logs_bucket = boto3.client("s3")

    logging = buckets["ArtifactsBucket"]["Properties"]["LoggingConfiguration"]
    assert logging == {
        "DestinationBucketName": {"Ref": "AccessLogsBucket"},
        "LogFilePrefix": "artifacts-bucket/",
    }
    # The log bucket is as closed as the artifacts bucket, and its logs expire.
    name = stack["AccessLogsBucket"]
    encryption = logs_bucket.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    public = logs_bucket.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(public.values()) and len(public) == 4
    (rule,) = logs_bucket.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert rule["Expiration"]["Days"] == 90
    # Only S3's logging service may write there, only under the prefix, only for our bucket.
    policy = _resources_of_type(expanded, "AWS::S3::BucketPolicy")
    statements = next(
        p for p in policy.values() if p["Properties"]["Bucket"]["Ref"] == "AccessLogsBucket"
    )["Properties"]["PolicyDocument"]["Statement"]
    (writer,) = [s for s in statements if s["Effect"] == "Allow"]
    assert writer["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert writer["Action"] == "s3:PutObject"
    assert writer["Condition"]["ArnLike"] == {
        "aws:SourceArn": {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]}
    }


def test_the_api_logs_each_request_as_json_with_caller_and_path_and_no_body(
    expanded: dict[str, Any], stack: dict[str, str]
) -> None:
    (stage,) = _resources_of_type(expanded, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]

    line = json.loads(setting["Format"])

    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    assert line["caller"] == "$context.identity.userArn"
    assert line["apiKeyId"] == "$context.identity.apiKeyId"
    assert line["path"] == "$context.path"  # /score-jobs/<job_id>/...: the job
    assert {"requestId", "status", "method", "latencyMs", "sourceIp"} <= set(line)
    assert not any("body" in value.lower() or "$input" in value for value in line.values())
    # Kept for a while, not forever.
    (group,) = boto3.client("logs").describe_log_groups(logGroupNamePrefix=stack["ApiAccessLogs"])[
        "logGroups"
    ]
    assert group["retentionInDays"] == 90


def test_api_gateway_gets_a_cloudwatch_role_unless_the_account_has_one(
    expanded: dict[str, Any],
) -> None:
    account = _resources_of_type(expanded, "AWS::ApiGateway::Account")["ApiGatewayAccount"]
    role = _resources_of_type(expanded, "AWS::IAM::Role")["ApiGatewayLogsRole"]

    assert account["Properties"]["CloudWatchRoleArn"] == {
        "Fn::If": [
            "CreateApiGatewayLogsRole",
            {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]},
            {"Ref": "ApiGatewayLogsRoleArn"},
        ]
    }
    assert expanded["Conditions"]["CreateApiGatewayLogsRole"] == {
        "Fn::Equals": [{"Ref": "ApiGatewayLogsRoleArn"}, ""]
    }
    assert role["Condition"] == "CreateApiGatewayLogsRole"
    assert role["DeletionPolicy"] == "Retain"  # the account's setting outlives the stack
    assert role["Properties"]["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs"
        }
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_is_told_the_deployed_names(stack: dict[str, str], function: str) -> None:
    environment = function_environment(function, stack)

    assert environment["SCORE_JOBS_TABLE"] == stack["ScoreJobs"]
    assert environment["SCORE_QUEUE_URL"] == stack["ScoreQueue"]
    assert environment["SCORE_SHARD_QUEUE_URL"] == stack["ShardQueue"]
    assert environment["SCORE_DLQ_URL"] == stack["ScoreDLQ"]
    assert environment["ARTIFACTS_BUCKET"] == stack["ArtifactsBucket"]
    assert environment["EVENT_BUS_NAME"] == stack["ScoreEvents"] == "default-stack-score-events"
    assert environment["WEBHOOK_SECRET_PREFIX"] == "/ragas-serverless/webhook-secrets"
    assert environment["RAGAS_DO_NOT_TRACK"] == "true"
    assert environment["RAGAS_METRIC_TIMEOUT_SECONDS"] == "60"
    assert environment["MAX_RECEIVE_COUNT"] == "3"
    assert environment["OPENAI_API_KEY_PARAMETER"] == ""
    assert all(isinstance(value, str) for value in environment.values())


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_templates_defaults_are_the_settings_defaults(
    stack: dict[str, str], function: str
) -> None:
    # GIVEN the settings a function reads from its template environment with no parameter set
    environment = function_environment(function, stack)
    from_template = Settings.from_env(environment)

    # THEN a deployed function behaves as the local service does by default
    for name, field in Settings.model_fields.items():
        if field.alias in environment and field.alias not in DEPLOYED_NAMES:
            assert getattr(from_template, name) == field.get_default(call_default_factory=True), (
                field.alias
            )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_template_variable_is_a_setting_or_read_by_the_sdk_or_a_library(
    stack: dict[str, str], function: str
) -> None:
    environment = function_environment(function, stack)
    aliases = {field.alias for field in Settings.model_fields.values()}

    assert set(environment) - aliases == NOT_SETTINGS


def test_deployed_functions_call_aws_itself_though_the_endpoint_variable_is_declared(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the endpoint variable as the template sets it on AWS: declared, so that `sam local
    # invoke --env-vars` may point the functions at the local stack (README), and empty
    environment = function_environment("WorkerFunction", stack)
    assert environment["AWS_ENDPOINT_URL"] == ""
    monkeypatch.setenv("AWS_ENDPOINT_URL", environment["AWS_ENDPOINT_URL"])

    # WHEN the SDK makes the clients the functions use
    session = boto3.session.Session(region_name="us-east-1")
    endpoints = {
        service: session.client(service).meta.endpoint_url
        for service in ("dynamodb", "sqs", "s3", "ssm", "bedrock-runtime", "cloudwatch")
    }

    # THEN botocore ignores the empty value: each is AWS's own endpoint
    assert all(
        url.startswith("https://") and url.endswith(".amazonaws.com") for url in endpoints.values()
    ), endpoints


def test_parameters_reach_the_settings_and_the_worker_permissions(fake_aws: None) -> None:
    parameters = {**JUDGE_PARAMETERS, "AuthMode": "API_KEY", "MetricTimeoutSeconds": "30"}

    physical_ids = deploy(
        boto3.client("cloudformation"), stack_name="judge-stack", parameters=parameters
    )
    environment = function_environment("WorkerFunction", physical_ids, parameters)
    iam = boto3.client("iam")
    role = physical_ids["WorkerRole"]

    assert environment["OPENAI_API_KEY_PARAMETER"] == "/ragas-serverless/openai-api-key"
    assert environment["RAGAS_METRIC_TIMEOUT_SECONDS"] == "30"
    assert set(iam.list_role_policies(RoleName=role)["PolicyNames"]) == {
        "ConsumeScoreQueue",
        "RunScoreJobs",
        "ReadJudgeApiKey",
        "InvokeBedrockJudges",
    }
    key_policy = iam.get_role_policy(RoleName=role, PolicyName="ReadJudgeApiKey")["PolicyDocument"]
    (statement,) = key_policy["Statement"]
    assert statement["Action"] == "ssm:GetParameter"
    assert statement["Resource"].endswith(":parameter/ragas-serverless/openai-api-key")


def test_without_a_key_parameter_or_bedrock_the_worker_gets_neither(
    stack: dict[str, str],
) -> None:
    names = boto3.client("iam").list_role_policies(RoleName=stack["WorkerRole"])["PolicyNames"]

    assert set(names) == {"ConsumeScoreQueue", "RunScoreJobs"}


def test_api_routes_are_the_route_tables_explicit_routes() -> None:
    routes = api_routes()

    assert sorted(routes) == sorted((r.method, r.path, r.function) for r in ROUTES)
    assert not any("{proxy+}" in route.path for route in routes)


@pytest.mark.parametrize(
    ("event_file", "function"),
    [(path, "ApiFunction") for path in sorted((ROOT / "events").glob("api-*.json"))]
    + [(path, "ListFunction") for path in sorted((ROOT / "events").glob("list-*.json"))],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_each_sample_api_event_targets_a_route_of_its_function(
    event_file: Path, function: str
) -> None:
    event = json.loads(event_file.read_text(encoding="utf-8"))

    routes = {(route.method, route.path): route.function for route in api_routes()}

    assert routes.get((event["httpMethod"], event["resource"])) == function


@pytest.mark.parametrize("auth_mode", ["IAM", "API_KEY"])
def test_every_route_is_integrated_and_requires_the_chosen_auth(auth_mode: str) -> None:
    template = expand_template({"AuthMode": auth_mode})
    body = template["Resources"]["ScoreApi"]["Properties"]["Body"]

    operations = {
        (method.upper(), path): operation
        for path, item in body["paths"].items()
        for method, operation in item.items()
    }

    assert set(operations) == {(route.method, route.path) for route in ROUTES if route.auth}
    for operation in operations.values():
        assert operation["security"] == {
            "Fn::If": ["UseApiKey", [{"api_key": []}], [{"sigv4": []}]]
        }
        assert operation["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert template["Conditions"]["UseApiKey"] == {"Fn::Equals": [{"Ref": "AuthMode"}, "API_KEY"]}


def test_api_key_mode_comes_with_a_throttled_usage_plan(expanded: dict[str, Any]) -> None:
    plans = _resources_of_type(expanded, "AWS::ApiGateway::UsagePlan")
    (stage,) = _resources_of_type(expanded, "AWS::ApiGateway::Stage").values()

    assert [plan["Condition"] for plan in plans.values()] == ["UseApiKey"]
    assert all(plan["Properties"]["Throttle"] for plan in plans.values())
    for resource_type in ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"):
        conditions = [
            key["Condition"] for key in _resources_of_type(expanded, resource_type).values()
        ]
        assert conditions == ["UseApiKey"]
    settings = stage["Properties"]["MethodSettings"]
    assert {(setting["ResourcePath"], setting["HttpMethod"]) for setting in settings} == {
        ("/*", "*"),
        ("/~1score-jobs", "POST"),
    }
    assert all(setting["ThrottlingRateLimit"] > 0 for setting in settings)
    assert stage["Properties"]["StageName"] == "v1"
    assert stage["Properties"]["TracingEnabled"] is True


def test_the_api_role_creates_and_reads_jobs_and_updates_only_queued_or_cancelled(
    expanded: dict[str, Any],
) -> None:
    grants = _grants(expanded, "ApiFunctionRole")

    assert grants == {
        ("sqs:SendMessage", "ScoreQueue.Arn"),
        ("dynamodb:PutItem", "ScoreJobs.Arn"),
        ("dynamodb:GetItem", "ScoreJobs.Arn"),
        ("dynamodb:DeleteItem", "ScoreJobs.Arn"),
        ("dynamodb:UpdateItem", "ScoreJobs.Arn"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-requests/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-async/*"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-uploads/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-uploads/*"),
        ("dynamodb:BatchGetItem", "VerdictCache.Arn"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-labels/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-labels/*"),
        ("s3:ListBucket", "ArtifactsBucket.Arn"),
        ("events:PutEvents", "ScoreEvents.Arn"),
        ("ssm:GetParameter", WEBHOOK_SECRETS),
        ("ssm:PutParameter", WEBHOOK_SECRETS),
    }
    # UpdateItem reaches no attribute of a job but the key, the status, queued_at, the times
    # a cancel sets, and the comparisons asked; and no other item than a suite's registry
    updates = {
        statement["Sid"]: statement
        for policy in expanded["Resources"]["ApiFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] == "dynamodb:UpdateItem"
    }
    assert set(updates) == {"RecordJobQueuedOrCancelled", "CountSuiteRuns"}
    assert updates["CountSuiteRuns"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["suite#*"]}
    }
    assert updates["RecordJobQueuedOrCancelled"]["Condition"] == {
        "ForAllValues:StringEquals": {
            "dynamodb:Attributes": [
                "job_id",
                "status",
                "queued_at",
                "updated_at",
                "finished_at",
                "compare_requested",
                "event_queued",
                "event_cancelled",
            ]
        }
    }


def test_labels_are_written_by_the_api_and_read_by_the_worker_under_their_prefix_only(
    expanded: dict[str, Any],
) -> None:
    statements = [
        statement
        for policy in expanded["Resources"]["ApiFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]

    labels = [s for s in statements if "score-labels" in json.dumps(s)]

    assert {(s["Sid"], json.dumps(s["Action"])) for s in labels} == {
        ("ReadWriteLabels", '["s3:PutObject", "s3:GetObject"]'),
        ("ListLabels", '"s3:ListBucket"'),
    }
    [listing] = [s for s in labels if s["Sid"] == "ListLabels"]
    # The bucket's listing, of the labels' prefix alone: no run folder, upload or cache key.
    assert listing["Resource"] == {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "score-labels/*"}}
    # The worker reads and lists them (to set them against the judge), and writes none; the
    # list function never touches them, nor lists the bucket.
    worker = _grants(expanded, "WorkerRole")
    assert {g for g in worker if "score-labels" in g[1] or g[0] == "s3:ListBucket"} == {
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-labels/*"),
        ("s3:ListBucket", "ArtifactsBucket.Arn"),
    }
    [worker_listing] = [
        statement
        for policy in expanded["Resources"]["WorkerRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "ListLabels"
    ]
    assert worker_listing["Condition"] == {"StringLike": {"s3:prefix": "score-labels/*"}}
    grants = _grants(expanded, "ListFunctionRole")
    assert not [g for g in grants if "score-labels" in g[1] or g[0] == "s3:ListBucket"]


def test_the_list_role_can_only_query_the_job_indexes(expanded: dict[str, Any]) -> None:
    grants = _grants(expanded, "ListFunctionRole")

    assert grants == {
        ("dynamodb:Query", "${ScoreJobs.Arn}/index/ByCreated"),
        ("dynamodb:Query", "${ScoreJobs.Arn}/index/BySuite"),
    }


def test_the_worker_role_consumes_its_queues_and_moves_job_status(
    expanded: dict[str, Any],
) -> None:
    grants = _grants(expanded, "WorkerRole")

    assert grants == {
        *(
            (action, f"{queue}.Arn")
            for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
            for queue in ("ScoreQueue", "ShardQueue", "ScoreDLQ")
        ),
        ("sqs:SendMessage", "ShardQueue.Arn"),
        ("sqs:SendMessage", "ScoreQueue.Arn"),  # webhook deliveries, sent again
        ("events:PutEvents", "ScoreEvents.Arn"),
        ("ssm:GetParameter", WEBHOOK_SECRETS),
        ("dynamodb:GetItem", "ScoreJobs.Arn"),
        ("dynamodb:UpdateItem", "ScoreJobs.Arn"),
        ("dynamodb:Query", "${ScoreJobs.Arn}/index/BySuite"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-async/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-async/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-requests/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-uploads/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-work/*"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-work/*"),
        ("dynamodb:GetItem", "VerdictCache.Arn"),
        ("dynamodb:PutItem", "VerdictCache.Arn"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-cache/*"),
        ("s3:PutObject", "${ArtifactsBucket.Arn}/score-cache/*"),
        ("s3:GetObject", "${ArtifactsBucket.Arn}/score-labels/*"),
        ("s3:ListBucket", "ArtifactsBucket.Arn"),
    }
    conditional = {
        policy["Condition"]: _statement_grants(policy["Properties"]["PolicyDocument"])
        for policy in _resources_of_type(expanded, "AWS::IAM::Policy").values()
    }
    assert conditional == {
        "HasOpenAIApiKeyParameter": {
            (
                "ssm:GetParameter",
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                ":parameter${OpenAIApiKeyParameter}",
            )
        },
        "UseBedrock": {
            (
                "bedrock:InvokeModel",
                "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/*",
            )
        },
    }


def test_no_role_allows_wildcard_actions_or_resources_beyond_what_aws_requires(
    expanded: dict[str, Any],
) -> None:
    # Object keys under one prefix, and any foundation model (chosen per request).
    allowed_wildcards = (
        "/score-async/*",
        "/score-cache/*",
        "/score-labels/*",
        "/score-requests/*",
        "/score-uploads/*",
        "/score-work/*",
        "::foundation-model/*",
        ":parameter${WebhookSecretPrefix}/*",
    )
    roles = _resources_of_type(expanded, "AWS::IAM::Role")
    policies = _resources_of_type(expanded, "AWS::IAM::Policy")

    documents = [
        policy["PolicyDocument"]
        for role in roles.values()
        for policy in role["Properties"].get("Policies", [])
    ] + [policy["Properties"]["PolicyDocument"] for policy in policies.values()]
    grants = set().union(*(_statement_grants(document) for document in documents))
    managed = {
        arn["Fn::Sub"] if isinstance(arn, dict) else arn
        for role in roles.values()
        for arn in role["Properties"].get("ManagedPolicyArns", [])
    }

    assert not [action for action, _ in grants if "*" in action]
    assert not [
        resource
        for _, resource in grants
        if "*" in resource and not resource.endswith(allowed_wildcards)
    ]
    # Logs and X-Ray take no narrower resource (nor does API Gateway's account-wide role for
    # its access logs); AWSLambdaSQSQueueExecutionRole (any queue) is not among them.
    assert {arn.rsplit("/", 1)[-1] for arn in managed} == {
        "AWSLambdaBasicExecutionRole",
        "AWSXrayWriteOnlyAccess",
        "AmazonAPIGatewayPushToCloudWatchLogs",
    }


def test_the_worker_takes_one_message_per_invocation_from_each_queue_capped(
    expanded: dict[str, Any],
) -> None:
    mappings = _resources_of_type(expanded, "AWS::Lambda::EventSourceMapping").values()
    worker = expanded["Resources"]["WorkerFunction"]["Properties"]

    by_queue = {
        m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]: m["Properties"] for m in mappings
    }
    # The dead-letter queue too: a message that failed every delivery closes its work.
    assert set(by_queue) == {"ScoreQueue", "ShardQueue", "ScoreDLQ"}
    assert {m["Properties"]["FunctionName"]["Ref"] for m in mappings} == {"WorkerFunction"}
    for mapping in by_queue.values():
        assert mapping["BatchSize"] == 1
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The judge's load is capped by a parameter, per queue, without throttling errors.
    assert by_queue["ShardQueue"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "WorkerConcurrency"}
    }
    assert by_queue["ScoreQueue"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "PlanningConcurrency"}
    }
    assert worker["PackageType"] == "Image"
    # A function-level dead-letter queue only applies to asynchronous invokes.
    assert "DeadLetterConfig" not in worker


@pytest.mark.parametrize("function", FUNCTIONS)
def test_functions_run_python312_on_x86_with_active_tracing(
    expanded: dict[str, Any], function: str
) -> None:
    properties = expanded["Resources"][function]["Properties"]

    assert properties["Architectures"] == ["x86_64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    if properties.get("PackageType") != "Image":
        assert properties["Runtime"] == "python3.12"
        assert properties["Layers"] == [
            {"Ref": _logical_id_of(expanded, "AWS::Lambda::LayerVersion")}
        ]


def _resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def _logical_id_of(template: dict[str, Any], resource_type: str) -> str:
    (logical_id,) = _resources_of_type(template, resource_type)
    return logical_id


def _grants(template: dict[str, Any], role: str) -> set[tuple[str, str]]:
    """(action, resource) pairs of a role's inline policies; resources as written."""
    policies = template["Resources"][role]["Properties"].get("Policies", [])
    return set().union(*(_statement_grants(policy["PolicyDocument"]) for policy in policies))


def _statement_grants(document: dict[str, Any]) -> set[tuple[str, str]]:
    grants = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _as_list(statement["Action"])
        resources = [_written(resource) for resource in _as_list(statement["Resource"])]
        grants |= {(action, resource) for action in actions for resource in resources}
    return grants


def _written(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if "Fn::GetAtt" in resource:
        return ".".join(resource["Fn::GetAtt"])
    return resource["Fn::Sub"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_alarms_watch_the_metrics_the_functions_write(
    expanded: dict[str, Any], stack: dict[str, str]
) -> None:
    alarms = _resources_of_type(expanded, "AWS::CloudWatch::Alarm")
    variables = function_environment("WorkerFunction", stack)
    watched = {
        name: {
            query["MetricStat"]["Metric"]["MetricName"]: query["MetricStat"]["Metric"]
            for query in alarm["Properties"]["Metrics"]
            if "MetricStat" in query
        }
        for name, alarm in alarms.items()
        if "Metrics" in alarm["Properties"]
    }

    assert set(alarms) == {"ScoreDLQDepthAlarm", "JobFailureRateAlarm", "JudgeRateLimitedAlarm"}
    # The worker empties the DLQ within seconds: its alarm counts arrivals, not depth.
    dlq = alarms["ScoreDLQDepthAlarm"]["Properties"]
    assert (dlq["MetricName"], dlq["Statistic"]) == ("NumberOfMessagesReceived", "Sum")
    assert set(watched["JobFailureRateAlarm"]) == {
        metrics.JOBS_ENDED[JobState.FAILED],
        metrics.JOBS_ENDED[JobState.COMPLETED],
    }
    assert set(watched["JudgeRateLimitedAlarm"]) == {
        metrics.JUDGE_RATE_LIMITED,
        metrics.JUDGE_CALLS,
    }
    for metric in (m for alarm in watched.values() for m in alarm.values()):
        # The namespace and the one dimension Powertools gives every document of ours.
        assert metric["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
        assert metric["Dimensions"] == [
            {"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}
        ]
    for name in ("JobFailureRateAlarm", "JudgeRateLimitedAlarm"):
        properties = alarms[name]["Properties"]
        assert properties["TreatMissingData"] == "notBreaching"
        assert sum(query["ReturnData"] for query in properties["Metrics"]) == 1


def test_job_events_go_to_a_bus_of_the_stacks_own_which_it_names(
    stack: dict[str, str], expanded: dict[str, Any]
) -> None:
    (bus,) = _resources_of_type(expanded, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-score-events"}
    names = [b["Name"] for b in boto3.client("events").list_event_buses()["EventBuses"]]
    assert stack["ScoreEvents"] in names
    outputs = expanded["Outputs"]
    assert outputs["ScoreEventsBusName"]["Value"] == {"Ref": "ScoreEvents"}
    assert outputs["ScoreEventsBusArn"]["Value"] == {"Fn::GetAtt": ["ScoreEvents", "Arn"]}
    # Only the API and the worker publish: the list function never moves a job.
    assert ("events:PutEvents", "ScoreEvents.Arn") not in _grants(expanded, "ListFunctionRole")
