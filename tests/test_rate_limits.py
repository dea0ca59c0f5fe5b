"""Rate limits per client address (dugnad.ratelimit): logging in, emailed links, one-time
codes and the verify page answer 429 with a friendly page once an address has used up
its limit. Every test makes an app of its own with the limits on (the other tests run
with them off; see helpers.make_app), so each starts with fresh counters."""

from __future__ import annotations

import pytest
from helpers import PASSWORD, Factory, empty_database, make_app

from dugnad.extensions import db

FRIENDLY = "For mange forsøk"


def _app(database_url, **config):
    return make_app(database_url, RATELIMIT_ENABLED=True, **config)


@pytest.fixture
def apps(database_url):
    made = []

    def make(**config):
        made.append(_app(database_url, **config))
        return made[-1]

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    empty_database(database_url)


def _other_address(app):
    """A client from another address on this machine (only the WSGI environ says so)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    return client


def _assert_limited(response):
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert FRIENDLY in page and "Vent 1 minutt, og prøv igjen." in page
    assert response.headers["Retry-After"] == "60"


def test_login_is_limited_per_address(apps):
    app = apps()
    staff = Factory(app).user(Factory(app).municipality(), "staff")
    client = app.test_client()
    for _ in range(10):  # RATELIMIT_LOGIN: 10 per minute
        assert client.post("/login", data={"email": "ukjent@kommune.example.no", "password": "gjetning"}).status_code == 401
    response = client.post("/login", data={"email": staff, "password": PASSWORD})
    _assert_limited(response)
    assert client.get("/").status_code == 302  # not logged in
    assert client.get("/login").status_code == 200  # reading the page is not limited
    # Asking for a reset link counts with logging in.
    assert client.post("/account/forgot", data={"email": staff}).status_code == 429
    # Another address still may.
    assert _other_address(app).post("/login", data={"email": staff, "password": PASSWORD}).status_code == 302


def test_emailed_links_are_limited_together(apps):
    app = apps()
    client = app.test_client()
    for n in range(60):  # RATELIMIT_LINKS: 60 per minute, over every link route
        url = ("/r/invitation/", "/r/agreement/", "/r/evaluation/", "/account/reset/", "/account/invite/")[n % 5]
        assert client.get(url + f"guess{n}").status_code == 404
    _assert_limited(client.get("/r/agreement/guess-61"))
    _assert_limited(client.get("/account/invite/guess-62"))
    assert _other_address(app).get("/r/agreement/guess").status_code == 404


def test_one_time_codes_are_limited_more_strictly(apps):
    app = apps()
    client = app.test_client()
    for n in range(10):  # RATELIMIT_CODES: 10 per minute, asking for codes and typing them
        url = "/r/agreement/guess/code/send" if n % 2 else "/r/agreement/guess/code"
        assert client.post(url, data={"code": "123456"}).status_code == 404
    _assert_limited(client.post("/r/agreement/guess/code", data={"code": "123456"}))
    _assert_limited(client.post("/r/agreement/guess/code/send", data={}))


def test_verify_posts_are_limited(apps):
    app = apps()
    client = app.test_client()
    for _ in range(10):  # RATELIMIT_VERIFY: 10 per minute
        assert client.post("/verify", data={"number": "2026-0001", "sha256": "0" * 64}).status_code != 429
    _assert_limited(client.post("/verify", data={"number": "2026-0001", "sha256": "0" * 64}))
    assert client.get("/verify").status_code == 200  # the page itself is not limited


def test_limits_come_from_the_configuration(apps):
    app = apps(RATELIMIT_LOGIN="2 per hour")
    client = app.test_client()
    for _ in range(2):
        assert client.post("/login", data={"email": "a@b.no", "password": "x"}).status_code == 401
    response = client.post("/login", data={"email": "a@b.no", "password": "x"})
    assert response.status_code == 429
    assert "Vent 60 minutter, og prøv igjen." in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "3600"


def test_limits_can_be_switched_off(app, client):
    # The app every other test uses: RATELIMIT_ENABLED off.
    for _ in range(15):
        assert client.post("/login", data={"email": "a@b.no", "password": "x"}).status_code == 401
    assert app.extensions.get("dugnad_rate_limits") is None


def test_every_public_form_and_link_route_is_limited(apps):
    limited = apps().extensions["dugnad_rate_limits"]
    expected = {
        "auth.login": "RATELIMIT_LOGIN", "auth.forgot_password": "RATELIMIT_LOGIN", "auth.change_password": "RATELIMIT_LOGIN",
        "auth.accept_invite": "RATELIMIT_LINKS", "auth.reset_password": "RATELIMIT_LINKS",
        "respond.agreement_code_send": "RATELIMIT_CODES", "respond.agreement_code": "RATELIMIT_CODES",
        "verify.index": "RATELIMIT_VERIFY",
    }
    for endpoint, key in expected.items():
        assert limited[endpoint] == key, endpoint
    app = apps()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/r/"):
            assert rule.endpoint in limited, rule.rule


@pytest.fixture
def redis_url():
    """A real Redis server on loopback, for as long as the test runs."""
    import shutil
    import socket
    import subprocess
    import time

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_app_servers_sharing_redis_count_together(apps, redis_url):
    """Two app servers (two app objects, as two gunicorn processes or machines) with
    RATELIMIT_STORAGE_URI pointing at one Redis: an address's attempts on both count
    against one limit, so spreading them over servers does not get round it."""
    first = apps(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_LOGIN="4 per minute")
    second = apps(RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_LOGIN="4 per minute")
    wrong = {"email": "ukjent@kommune.example.no", "password": "gjetning"}
    for app in (first, second, first, second):
        assert app.test_client().post("/login", data=wrong).status_code == 401
    _assert_limited(second.test_client().post("/login", data=wrong))
    _assert_limited(first.test_client().post("/login", data=wrong))
    # In memory (the default) each server counts alone: the same four leave both open.
    alone = [apps(RATELIMIT_LOGIN="4 per minute") for _ in range(2)]
    for app in (*alone, *alone):
        assert app.test_client().post("/login", data=wrong).status_code == 401
    assert alone[0].test_client().post("/login", data=wrong).status_code == 401
