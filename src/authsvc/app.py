"""The ASGI application: routers, middleware, error handlers and lifespan."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

import authsvc
from authsvc.auth_codes.endpoints import router as auth_codes_router
from authsvc.config import Settings
from authsvc.contacts.endpoints import router as contacts_router
from authsvc.context import ServiceContext
from authsvc.core.clock import Clock
from authsvc.delivery.worker import delivery_worker
from authsvc.factors.endpoints import router as factors_router
from authsvc.health.endpoints import router as health_router
from authsvc.login.endpoints import router as login_router
from authsvc.ops.metrics import process_exited
from authsvc.pages import install_pages
from authsvc.pages.not_me import router as not_me_router
from authsvc.protection.endpoints import router as password_router
from authsvc.sessions.endpoints import router as session_router
from authsvc.startup import startup_settings
from authsvc.support.endpoints import history_router as support_history_router
from authsvc.support.endpoints import router as support_router
from authsvc.web.headers import SecurityHeadersMiddleware
from authsvc.web.limits import BodyLimitMiddleware
from authsvc.web.observe import RequestContextMiddleware
from authsvc.web.openapi_docs import install_openapi, servers
from authsvc.web.problem import install_problem_handlers

DESCRIPTION = "\n\n".join(
    [
        "Two-step login, authorization codes and support verification for the Client Panel.",
        "Every error is `application/problem+json` (RFC 9457, schema `Problem`) with a stable "
        "`code`; each response lists the codes it can carry. Any path may also answer "
        "`404 not_found` or `405 method_not_allowed`, and a request body over "
        "`AUTHSVC_MAX_BODY_BYTES` gets `413 payload_too_large`.",
        "The HTML pages under `/panel/` and `/support/` are static files that use this API; "
        "they are not part of it.",
    ]
)

# Something that runs beside the API for the app's lifetime (the delivery worker).
BackgroundService = Callable[[ServiceContext], AbstractAsyncContextManager[None]]


def background_services(settings: Settings) -> list[BackgroundService]:
    """What `authsvc serve` runs beside the API."""
    return [delivery_worker] if settings.run_delivery_worker else []


def create_app(
    settings: Settings | None = None,
    *,
    ctx: ServiceContext | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the app.

    Tests pass a ready `ctx` (and nothing runs in the background); `authsvc serve` lets
    the lifespan build the context from settings and start the background services.
    """
    settings = ctx.settings if ctx is not None else (settings or startup_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ctx is not None:
            yield
            return
        if settings.database_url is None:
            raise RuntimeError("AUTHSVC_DATABASE_URL is not set")
        async with AsyncExitStack() as stack:
            # This worker's live gauges leave the shared totals when it stops.
            stack.callback(process_exited, os.getpid())
            own = ServiceContext.build(
                settings, settings.database_url.get_secret_value(), clock=clock
            )
            stack.push_async_callback(own.close)
            app.state.ctx = own
            for service in background_services(settings):
                await stack.enter_async_context(service(own))
            yield

    # The interactive docs load their scripts from a public CDN, without SRI or a CSP, on
    # an origin the CSRF rule trusts: a developer's tool only. Elsewhere the contract is
    # the committed openapi.yaml (`authsvc openapi` builds it from the app all the same).
    docs = settings.is_dev
    app = FastAPI(
        title="authsvc",
        version=authsvc.__version__,
        description=DESCRIPTION,
        servers=servers(settings),
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.ctx = ctx
    install_problem_handlers(app)
    install_openapi(app)
    # Added first, so it runs innermost: its 413 still gets the CORS and security headers.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Content-Type", "Authorization"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    # Dev serves plain HTTP on localhost, where HSTS would stick to every other local port.
    hsts = 0 if settings.is_dev else int(settings.hsts_max_age.total_seconds())
    app.add_middleware(SecurityHeadersMiddleware, hsts_max_age=hsts)
    # Outermost: the request id and the access line cover every answer, errors included.
    app.add_middleware(RequestContextMiddleware, trusted_proxies=settings.trusted_proxies)
    app.include_router(health_router)
    app.include_router(login_router)
    app.include_router(session_router)
    app.include_router(auth_codes_router)
    app.include_router(factors_router)
    app.include_router(contacts_router)
    app.include_router(support_history_router)
    app.include_router(support_router)
    app.include_router(password_router)
    # Always served, panel or not: e-mails already sent link to it.
    app.include_router(not_me_router)
    if settings.panel_enabled:
        install_pages(app, settings)
    return app
