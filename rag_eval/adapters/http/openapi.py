"""The OpenAPI schema and Swagger UI of the API function, built when asked.

Powertools' OpenAPI models cost about 250 ms to import: they stay off the cold start and
load on the two documentation routes only.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from rag_eval.adapters.http.responses import base_path

API_TITLE = "ragas-serverless"


def openapi_json(app: APIGatewayRestResolver) -> str:
    """The OpenAPI 3 schema of the app's routes (imports Powertools' OpenAPI models now)."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    return app.get_openapi_json_schema(
        title=API_TITLE,
        version="1",
        description=(
            "RAG answer scoring with ragas metrics. GET /score-jobs (newest first; query "
            "parameters limit 1..100, cursor, status) is served by the list function."
        ),
        servers=[Server(url=base_path(app) or "/")],
    )


def swagger_page(app: APIGatewayRestResolver) -> str:
    """Swagger UI on the schema, with the assets Powertools ships (no CDN needed)."""
    from pathlib import Path

    from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

    assets = Path(html.__file__).parent
    return html.generate_swagger_html(
        openapi_json(app).replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )
