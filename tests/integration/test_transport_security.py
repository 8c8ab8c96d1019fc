"""HSTS over TLS (or from a trusted TLS proxy only); `/docs` under a strict CSP with no inline script."""

from __future__ import annotations

import asyncio
import re

import httpx
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.wiring.container import Container


def _get(
    container: Container, url: str, client_ip: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(container), client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url, headers=headers)

    return asyncio.run(run())


def test_hsts_only_over_tls_or_from_a_trusted_tls_proxy(container: Container) -> None:
    container.settings.__dict__["trusted_proxies"] = "10.1.0.0/16, 192.0.2.7"
    assert "strict-transport-security" not in _get(container, "http://api/healthz", "10.1.2.3").headers
    direct = _get(container, "https://api/healthz", "203.0.113.9").headers
    assert direct["strict-transport-security"].startswith("max-age=")
    proxied = _get(container, "http://api/healthz", "10.1.2.3", {"X-Forwarded-Proto": "https"}).headers
    assert proxied["strict-transport-security"].startswith("max-age=")
    spoofed = _get(container, "http://api/healthz", "203.0.113.9", {"X-Forwarded-Proto": "https"}).headers
    assert "strict-transport-security" not in spoofed


def test_docs_run_under_a_strict_csp_without_inline_scripts(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in csp
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="' in attrs and not body.strip() for attrs, body in scripts)
    for attrs, _ in scripts:
        src = re.search(r'src="([^"]+)"', attrs)
        assert src is not None
        served = client.get(src.group(1))
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    assert "SwaggerUIBundle(" in client.get("/docs/assets/swagger-init.js").text
