"""The FastAPI application factory: routers, middleware and error handlers around a built container."""

from __future__ import annotations

from fastapi import FastAPI

from bondflow.api.docs import install_docs
from bondflow.api.errors import install_error_handlers
from bondflow.api.middleware import install_middleware
from bondflow.api.ops_routes import router as ops_router
from bondflow.container import Container
from commands.instrument_routes import router as instrument_command_router
from commands.payment_routes import router as payment_command_router
from commands.routes import router as command_router
from commands.sandbox_routes import router as sandbox_router
from commands.settlement_routes import router as settlement_command_router
from commands.user_routes import router as investor_command_router
from projections.instrument_routes import router as instrument_query_router
from projections.payment_routes import router as payment_query_router
from projections.portfolio_routes import router as portfolio_router
from projections.regulator_routes import router as regulator_router
from projections.report_routes import router as report_router
from projections.routes import router as query_router
from projections.settlement_routes import router as settlement_query_router
from projections.user_routes import router as investor_query_router


def create_app(container: Container) -> FastAPI:
    app = FastAPI(
        title="BondFlow API",
        version="1.0.0",
        description="Command and query API for trading tokenized Indian bonds. See API.md for the contract.",
        docs_url=None,  # served by bondflow.api.docs with bundled assets (no CDN)
        redoc_url=None,
    )
    app.state.container = container
    install_error_handlers(app)
    install_middleware(app, container.metrics, container.settings.cors_allow_origins)
    install_docs(app)
    app.include_router(ops_router)
    app.include_router(command_router)
    app.include_router(query_router)
    app.include_router(regulator_router)
    app.include_router(portfolio_router)
    app.include_router(report_router)
    app.include_router(instrument_command_router)
    app.include_router(instrument_query_router)
    app.include_router(investor_command_router)
    app.include_router(investor_query_router)
    app.include_router(payment_command_router)
    app.include_router(payment_query_router)
    app.include_router(settlement_command_router)
    app.include_router(settlement_query_router)
    app.include_router(sandbox_router)
    return app
