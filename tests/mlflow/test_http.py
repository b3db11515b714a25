"""The shared HTTP client (mlreport.http) on its own: errors, retries, redaction."""

from __future__ import annotations

import httpx
import pytest

from mlreport.http import MAX_RETRY_AFTER, HttpError, http_client
from mlreport.sources import SourceError

SECRET = "tok-abc-123-secret"


def client(handler, **kwargs):
    waits: list[float] = []
    c = http_client(
        "http://api.test", transport=httpx.MockTransport(handler), sleep=waits.append, **kwargs
    )
    return c, waits


def test_a_4xx_names_the_endpoint_code_and_message_and_redacts_echoed_secrets() -> None:
    def handler(request):
        return httpx.Response(
            400, json={"error_code": "INVALID_PARAMETER_VALUE", "message": f"bad {SECRET}"}
        )

    c, waits = client(handler, token=SECRET)
    with pytest.raises(HttpError) as err:
        c.get_json("/api/x", {"a": 1})
    assert str(err.value) == (
        "http://api.test: GET /api/x: HTTP 400: INVALID_PARAMETER_VALUE bad ***"
    )
    assert err.value.status == 400 and err.value.code == "INVALID_PARAMETER_VALUE"
    assert c.requests == 1 and waits == []


def test_retry_after_is_capped_and_backoff_doubles() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "86400"}),
            httpx.Response(502),
            httpx.Response(500),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    c, waits = client(lambda r: next(answers))
    assert c.post_json("/q", {"x": 1}) == {"ok": True}
    assert waits == [MAX_RETRY_AFTER, 1.0, 2.0]  # backoff 0.5 * 2**attempt
    assert c.requests == 4 and c.retried == 3


def test_connection_errors_are_retried_once_the_server_has_answered() -> None:
    calls = []

    def handler(request):
        calls.append(1)
        if 1 < len(calls) < 4:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=[])

    c, waits = client(handler)
    assert c.get_json("/x") == []  # first contact
    assert c.get_json("/x") == []  # two refused connections, retried
    assert len(waits) == 2


def test_an_unreachable_server_fails_fast_naming_the_url_and_the_cause() -> None:
    def handler(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    c, waits = client(handler)
    with pytest.raises(SourceError) as err:
        c.get_json("/x")
    assert str(err.value) == (
        "http://api.test: GET /x: connection failed: Connection refused (gave up after 2 attempts)"
    )
    assert len(waits) == 1


def test_an_html_error_page_is_not_pasted_into_the_error() -> None:
    page = "<html><head><title>404</title></head><body>" + "x" * 5000 + "</body></html>"

    def handler(request):
        return httpx.Response(404, text=page, headers={"content-type": "text/html"})

    c, _ = client(handler)
    with pytest.raises(SourceError) as err:
        c.get_json("/x")
    assert "<html" not in str(err.value) and "HTTP 404" in str(err.value)
    assert "an HTML page, not an API answer: check the URL" in str(err.value)


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(SourceError) as err:
        http_client("https://bob:hunter2@mlflow.test")
    assert "hunter2" not in str(err.value)
    assert "credentials in the URL" in str(err.value)


def test_empty_body_is_malformed_json() -> None:
    c, _ = client(lambda r: httpx.Response(200, content=b""))
    with pytest.raises(HttpError, match=r"GET /x: the response is not valid JSON"):
        c.get_json("/x")


def test_a_ca_bundle_keeps_verification_on(tmp_path) -> None:
    import shutil
    import ssl
    import subprocess

    from mlreport.http import _verify

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test-ca",
         "-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = _verify(cert)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert _verify(True) is True
