"""The FastAPI application factory: routers, middleware and error handlers around a built container."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from bondflow.api.docs import install_docs
from bondflow.api.errors import install_error_handlers
from bondflow.api.middleware import install_middleware
from bondflow.api.openapi import install_openapi
from bondflow.api.ops_routes import router as ops_router
from bondflow.api.rate_limits import RateLimitHeaders, enforce_rate_limits
from bondflow.api.strict_query import reject_unknown_query_parameters
from bondflow.api.transport_security import StrictTransportSecurity, parse_trusted_proxies
from bondflow.runtime import tracing
from bondflow.wiring.container import Container
from commands.instruments.routes import router as instrument_command_router
from commands.investors.routes import router as investor_command_router
from commands.payments.routes import ops_router as payment_ops_router
from commands.payments.routes import router as payment_command_router
from commands.sandbox.routes import router as sandbox_router
from commands.settlement.routes import router as settlement_command_router
from commands.tax.routes import router as tax_command_router
from commands.trading.routes import router as command_router
from projections.corporate_actions.tax_routes import router as tax_query_router
from projections.documents.routes import router as document_router
from projections.escrow.routes import router as payment_query_router
from projections.holdings.routes import router as portfolio_router
from projections.instruments.routes import router as instrument_query_router
from projections.iso20022.routes import router as iso20022_router
from projections.ledger.routes import router as ledger_router
from projections.live.routes import router as live_router
from projections.orders.routes import router as query_router
from projections.regulator.routes import router as regulator_router
from projections.reports.routes import router as report_router
from projections.settlements.routes import router as settlement_query_router
from projections.users.routes import router as investor_query_router


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="BondFlow API",
        version="1.0.0",
        description="Command and query API for trading tokenized Indian bonds. See API.md for the contract.",
        docs_url=None,  # served by bondflow.api.docs with bundled assets (no CDN)
        redoc_url=None,
        dependencies=[  # on every route: API.md rate limits, and no query parameter the route does not know
            Depends(enforce_rate_limits),
            Depends(reject_unknown_query_parameters),
        ],
    )
    app.state.container = container
    install_error_handlers(app)
    install_openapi(app)
    install_middleware(app, container.metrics, container.settings.cors_allow_origins)
    app.add_middleware(
        StrictTransportSecurity, trusted_proxies=parse_trusted_proxies(container.settings.trusted_proxies)
    )
    install_docs(app)
    tracing.instrument_app(app)
    app.add_middleware(RateLimitHeaders)
    app.include_router(ops_router)
    app.include_router(command_router)
    app.include_router(query_router)
    app.include_router(regulator_router)
    app.include_router(portfolio_router)
    app.include_router(iso20022_router)  # before the generic /v1/reports/{report}
    app.include_router(report_router)
    app.include_router(instrument_command_router)
    app.include_router(instrument_query_router)
    app.include_router(investor_command_router)
    app.include_router(investor_query_router)
    app.include_router(payment_command_router)
    app.include_router(payment_ops_router)
    app.include_router(payment_query_router)
    app.include_router(settlement_command_router)
    app.include_router(settlement_query_router)
    app.include_router(ledger_router)
    app.include_router(sandbox_router)
    app.include_router(live_router)
    app.include_router(tax_command_router)
    app.include_router(tax_query_router)
    app.include_router(document_router)
    return app
